using Sjd2Onnx.Model;
using Sjd2Onnx.Tests.Support;

namespace Sjd2Onnx.Tests;

/// <summary>PromptEncoder on the tiny models' whole-word vocabulary; expected ids come from vocab.txt.</summary>
public class TokenizerTests
{
    private static readonly LoadedModel Tiny = LoadedModel.Get("tiny");
    private static readonly string[] Vocab = File.ReadAllLines(Path.Combine(Tiny.Dir, Tiny.Manifest.Tokenizer.Files["vocab"]));

    private static int Id(string token)
    {
        int id = Array.IndexOf(Vocab, token);
        Assert.True(id >= 0, $"'{token}' is not in vocab.txt");
        return id;
    }

    private static int[] Ids(params string[] tokens) => tokens.Select(Id).ToArray();

    [Theory]
    [InlineData("a red circle", new[] { "a", "red", "circle" })]
    [InlineData("two small blue square", new[] { "two", "small", "blue", "square" })]
    [InlineData("the star above the line", new[] { "the", "star", "above", "the", "line" })]
    [InlineData("  big   dark\tgreen triangle \n", new[] { "big", "dark", "green", "triangle" })]
    public void KnownPromptsGiveVocabularyIds(string prompt, string[] tokens)
    {
        Assert.Equal(Ids(tokens), Tiny.Prompts.Tokenize(prompt));
    }

    [Theory]
    [InlineData("A Red CIRCLE", "a red circle")]
    [InlineData("BLUE SQUARE Below", "blue square below")]
    public void TokenizationIsCaseInsensitive(string upper, string lower)
    {
        Assert.Equal(Tiny.Prompts.Tokenize(lower), Tiny.Prompts.Tokenize(upper));
    }

    [Fact]
    public void UnknownWordsAreRefusedByName()
    {
        int unk = Id("[UNK]");
        Assert.All(Tiny.Prompts.EncodeText("zebra giraffe"), id => Assert.Equal(unk, id));
        // In a prompt, an unknown word would be ignored by the model without a word: refused, named.
        var e = Assert.Throws<Sjd2Exception>(() => Tiny.Prompts.Tokenize("a zebra circle xylophone"));
        Assert.Contains("'zebra', 'xylophone'", e.Message);
        Assert.DoesNotContain("'circle'", e.Message);
        Assert.Throws<Sjd2Exception>(() => Tiny.Prompts.Tokenize("zebra giraffe"));
    }

    [Fact]
    public void SymbolsAreTokensOfTheirOwnLikeThePythonSplit()
    {
        // The training side splits on \w+|[^\w\s]: a symbol is one (unknown) token, not dropped.
        var ids = Tiny.Prompts.Tokenize("red+circle $ blue");
        Assert.Equal(Ids("red", "[UNK]", "circle", "[UNK]", "blue"), ids);
    }

    [Fact]
    public void ConditionalAndUnconditionalRowsFollowTheTemplate()
    {
        var seq = Tiny.Manifest.Sequence;
        long[] prompt = Ids("a", "red", "circle").Select(i => (long)i).ToArray();
        long[] expected = [.. seq.PromptPrefixIds, .. prompt, .. seq.PromptSuffixIds, .. seq.BeginOfImageIds];
        Assert.Equal(expected, Tiny.Prompts.Conditional("a red circle"));
        // tiny's cfg.unconditional is empty_prompt: the template around nothing.
        Assert.Equal("empty_prompt", Tiny.Manifest.Cfg.Unconditional);
        Assert.Equal([.. seq.PromptPrefixIds, .. seq.PromptSuffixIds, .. seq.BeginOfImageIds], Tiny.Prompts.Unconditional("a red circle"));
        // The template ids are the special tokens of the vocabulary.
        Assert.Equal(Id("[BOS]"), Tiny.Manifest.Sequence.PromptPrefixIds[0]);
        Assert.Equal(Id("[BOI]"), Tiny.Manifest.Sequence.BeginOfImageIds[0]);
    }

    [Fact]
    public void PadAndNegativePromptModesBuildTheirRows()
    {
        var padManifest = Tiny.Manifest with { Cfg = new CfgSpec("pad_prompt", Id("[PAD]"), null) };
        var pad = new PromptEncoder(Tiny.Dir, padManifest);
        Assert.Equal(new long[] { Id("[BOS]"), Id("[PAD]"), Id("[PAD]"), Id("[PAD]"), Id("[BOI]") }, pad.Unconditional("a red circle"));

        var negManifest = Tiny.Manifest with { Cfg = new CfgSpec("negative_prompt", 0, "dark gray") };
        var neg = new PromptEncoder(Tiny.Dir, negManifest);
        Assert.Equal(new long[] { Id("[BOS]"), Id("dark"), Id("gray"), Id("[BOI]") }, neg.Unconditional("a red circle"));
    }

    [Fact]
    public void PromptLengthIsBounded()
    {
        int max = Tiny.Manifest.Tokenizer.MaxPromptTokens;
        string atLimit = string.Join(' ', Enumerable.Repeat("red", max));
        Assert.Equal(max, Tiny.Prompts.Tokenize(atLimit).Count);
        var e = Assert.Throws<Sjd2Exception>(() => Tiny.Prompts.Tokenize(atLimit + " red"));
        Assert.Contains($"{max}", e.Message);
        Assert.Throws<Sjd2Exception>(() => Tiny.Prompts.Tokenize(""));
        Assert.Throws<Sjd2Exception>(() => Tiny.Prompts.Tokenize("   "));
    }
}
