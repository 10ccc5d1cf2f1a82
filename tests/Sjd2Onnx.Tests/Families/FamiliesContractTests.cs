using System.Text.Json.Nodes;
using Sjd2Onnx.Model;

namespace Sjd2Onnx.Tests;

/// <summary>
/// The manifest extensions the model families brought (docs/model-format.md): tokenizer
/// prompt_format / normalization / byte_level / pre_tokenizer / special_tokens, the tiktoken type,
/// the begin_of_image unconditional mode and sequence.first_image_position — validated with one-line
/// errors, and the Hugging Face split semantics of the pre-tokenizer.
/// </summary>
public sealed class FamiliesContractTests
{
    private static JsonObject Tiny() =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(Support.TestPaths.RepoRoot, "tests", "models", "tiny", "model.json")))!.AsObject();

    private static string Error(Action<JsonObject> edit)
    {
        var m = Tiny();
        edit(m);
        return Assert.Throws<Sjd2Exception>(() => ManifestReader.Parse(m.ToJsonString())).Message;
    }

    [Fact]
    public void OldManifestsParseWithDefaults()
    {
        var m = ManifestReader.Parse(Tiny().ToJsonString());
        Assert.Equal("{prompt}", m.Tokenizer.PromptFormat);
        Assert.Null(m.Tokenizer.Normalization);
        Assert.False(m.Tokenizer.ByteLevel);
        Assert.Null(m.Tokenizer.PreTokenizer);
        Assert.Null(m.Tokenizer.SpecialTokens);
        Assert.Null(m.Sequence.FirstImagePosition);
    }

    [Fact]
    public void NewFieldsAreRead()
    {
        var m = Tiny();
        m["tokenizer"]!["type"] = "bpe";
        m["tokenizer"]!["merges"] = "vocab.txt";
        m["tokenizer"]!["prompt_format"] = "User: {prompt}\n";
        m["tokenizer"]!["normalization"] = "nfc";
        m["tokenizer"]!["byte_level"] = true;
        m["tokenizer"]!["pre_tokenizer"] = JsonNode.Parse("""[{"pattern": "\\p{N}", "behavior": "isolated"}, {"pattern": "x", "behavior": "removed", "invert": true}]""");
        m["tokenizer"]!["special_tokens"] = JsonNode.Parse("""{"<s>": 1}""");
        m["sequence"]!["first_image_position"] = 30;
        m["cfg"]!["unconditional"] = "begin_of_image";
        var r = ManifestReader.Parse(m.ToJsonString());
        Assert.Equal("User: {prompt}\n", r.Tokenizer.PromptFormat);
        Assert.Equal("nfc", r.Tokenizer.Normalization);
        Assert.True(r.Tokenizer.ByteLevel);
        Assert.Equal(2, r.Tokenizer.PreTokenizer!.Count);
        Assert.True(r.Tokenizer.PreTokenizer[1].Invert);
        Assert.Equal(1, r.Tokenizer.SpecialTokens!["<s>"]);
        Assert.Equal(30, r.Sequence.FirstImagePosition);
        Assert.Equal("begin_of_image", r.Cfg.Unconditional);
    }

    [Theory]
    [InlineData("prompt_format", "no placeholder", "prompt_format")]
    [InlineData("prompt_format", "{prompt} and {prompt}", "prompt_format")]
    [InlineData("normalization", "nfd", "normalization")]
    public void BadTokenizerTextFieldsAreRejected(string field, string value, string mentioned)
    {
        var msg = Error(m => m["tokenizer"]![field] = value);
        Assert.Contains(mentioned, msg);
        Assert.DoesNotContain('\n', msg);
    }

    [Fact]
    public void TokenizerFieldsOutsideTheirTypesAreRejected()
    {
        Assert.Contains("byte_level", Error(m => m["tokenizer"]!["byte_level"] = true));
        Assert.Contains("pre_tokenizer", Error(m => m["tokenizer"]!["pre_tokenizer"] = JsonNode.Parse("""[{"pattern": "a"}]""")));
        Assert.Contains("special_tokens", Error(m => m["tokenizer"]!["special_tokens"] = JsonNode.Parse("""{"a": 1}""")));
        Assert.Contains("pre_tokenizer", Error(m => m["tokenizer"]!["type"] = "tiktoken"));
    }

    [Fact]
    public void BadPreTokenizerSplitsAreRejected()
    {
        void Bpe(JsonObject m, string splits)
        {
            m["tokenizer"]!["type"] = "bpe";
            m["tokenizer"]!["merges"] = "vocab.txt";
            m["tokenizer"]!["pre_tokenizer"] = JsonNode.Parse(splits);
        }
        Assert.Contains("behavior", Error(m => Bpe(m, """[{"pattern": "a", "behavior": "sideways"}]""")));
        Assert.Contains("regular expression", Error(m => Bpe(m, """[{"pattern": "(unclosed"}]""")));
        Assert.Contains("pre_tokenizer", Error(m => Bpe(m, "[]")));
    }

    [Fact]
    public void SequenceExtensionsAreValidated()
    {
        Assert.Contains("first_image_position", Error(m => m["sequence"]!["first_image_position"] = 0));
        Assert.Contains("begin_of_image", Error(m =>
        {
            m["cfg"]!["unconditional"] = "begin_of_image";
            m["sequence"]!["begin_of_image_ids"] = new JsonArray();
        }));
        Assert.Contains("prompt_suffix_ids", Error(m =>
        {
            m["sequence"]!["prompt_prefix_ids"] = new JsonArray();
            m["sequence"]!["begin_of_image_ids"] = new JsonArray();
        }));
    }

    [Theory]
    [InlineData("isolated", false, "the|-|final|-|-|countdown")]
    [InlineData("removed", false, "the|final|countdown")]
    [InlineData("merged_with_previous", false, "the-|final-|-|countdown")]
    [InlineData("merged_with_next", false, "the|-final|-|-countdown")]
    [InlineData("contiguous", false, "the|-|final|--|countdown")]
    // inverted: the pattern marks the kept parts, the text between matches is the delimiter
    [InlineData("removed", true, "the|final|countdown")]
    [InlineData("isolated", true, "the|-|final|--|countdown")]
    public void SplitBehaviorsFollowHuggingFaceSemantics(string behavior, bool invert, string expected)
    {
        const string text = "the-final--countdown";
        var pre = new SplitSequencePreTokenizer([new PreTokenizerSplit(invert ? "[a-z]+" : "-", behavior, invert)]);
        var pieces = pre.PreTokenize(text).Select(p => text.Substring(p.Offset, p.Length));
        Assert.Equal(expected, string.Join("|", pieces));
    }

    [Fact]
    public void SplitsApplyInSequence()
    {
        const string text = "ab12 cd";
        var pre = new SplitSequencePreTokenizer([new PreTokenizerSplit(@"\s?[a-z]+", "isolated", false),
            new PreTokenizerSplit(@"\p{N}", "isolated", false)]);
        Assert.Equal("ab|1|2| cd", string.Join("|", pre.PreTokenize(text).Select(p => text.Substring(p.Offset, p.Length))));
    }

    [Fact]
    public void FirstImagePositionRejectsPrefixesThatDoNotFit()
    {
        var m = FamilyModels.Get("llamagen");
        long[] cond = Enumerable.Repeat(5L, 13).ToArray();   // 13 tokens, 12 caption slots
        using var runOptions = new Microsoft.ML.OnnxRuntime.RunOptions();
        var e = Assert.Throws<Sjd2Exception>(() => new Decoding.DecodingContext(m.Sessions, m.Manifest, cond, null,
            new Sampling.SamplingSettings(1f, 1f, 0, 1f), 0, 1, runOptions, CancellationToken.None, null));
        Assert.Contains("at most 12", e.Message);
    }
}
