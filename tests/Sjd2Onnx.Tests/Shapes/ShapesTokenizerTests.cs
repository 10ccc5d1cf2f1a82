using System.Text.Json;
using Sjd2Onnx.Evaluation;
using Sjd2Onnx.Model;
using Sjd2Onnx.Sampling;
using Xunit.Abstractions;

namespace Sjd2Onnx.Tests;

/// <summary>
/// The C# prompt encoder (Microsoft.ML.Tokenizers WordPiece) on the default model's vocabulary gives
/// exactly the ids of the Python tokenizer the model was trained with (tests/data/shapes/token_ids.json,
/// which covers every caption template and phrase, with and without size words, plus odd inputs).
/// </summary>
public sealed class ShapesTokenizerTests(ITestOutputHelper output)
{
    /// <summary>The default model folder: where its shapes_world.json is (onnx/).</summary>
    private static string ModelDir => Path.GetDirectoryName(ShapesTestData.WorldPath)!;

    [Fact]
    public void PromptEncoderMatchesPythonIdsForEveryCaptionForm()
    {
        var encoder = DefaultModelEncoder();
        var cases = PythonCases();
        Assert.True(cases.Count >= 50, $"only {cases.Count} captions in token_ids.json");
        int checkedCount = 0;
        int unk = ShapesTestData.Evaluator.World.Vocab.ToList().IndexOf("[UNK]");
        foreach (var (text, ids) in cases)
        {
            // the raw tokenizer on the lowercased text covers the empty caption too
            var raw = encoder.Tokenizer.EncodeToIds(text.ToLowerInvariant());
            Assert.True(ids.SequenceEqual(raw), $"\"{text}\": python [{string.Join(",", ids)}], C# [{string.Join(",", raw)}]");
            if (ids.Contains(unk))
            {
                // a caption with a word outside the vocabulary: generation refuses it by name
                Assert.Contains("does not know", Assert.Throws<Sjd2Exception>(() => encoder.Tokenize(text)).Message);
            }
            else if (!string.IsNullOrWhiteSpace(text))
            {
                // the path generation takes: lowercasing as the manifest says, then the tokenizer
                var viaPipeline = encoder.Tokenize(text);
                Assert.True(ids.SequenceEqual(viaPipeline), $"\"{text}\" via PromptEncoder.Tokenize: python [{string.Join(",", ids)}], C# [{string.Join(",", viaPipeline)}]");
            }
            checkedCount++;
        }
        output.WriteLine($"{checkedCount} captions match");
    }

    [Fact]
    public void CaptionsCoverEveryTemplateAndPhrase()
    {
        var world = ShapesTestData.Evaluator.World;
        var texts = PythonCases().Select(c => c.Text).ToList();
        foreach (var ph in world.Positions.SelectMany(p => p.Phrases).Concat(world.Relations.SelectMany(r => r.Phrases)))
            Assert.Contains(texts, t => t.Contains(ph, StringComparison.Ordinal));
        Assert.Contains(texts, t => t.Length == 0);
        Assert.Contains(texts, t => t.Any(char.IsUpper));
        Assert.Contains(texts, t => t.EndsWith('!') || t.EndsWith('.'));
    }

    [Fact]
    public void VocabFileIsTheWorldsVocab()
    {
        var world = ShapesTestData.Evaluator.World;
        string vocab = Path.Combine(ModelDir, "vocab.txt");
        Assert.True(File.Exists(vocab), $"the default model's vocab is missing at '{vocab}'");
        Assert.Equal(world.Vocab, File.ReadAllLines(vocab).Where(l => l.Length > 0).ToList());
    }

    [Fact]
    public void UnknownWordsAreNamedNotDropped()
    {
        var encoder = DefaultModelEncoder();
        int unk = ShapesTestData.Evaluator.World.Vocab.ToList().IndexOf("[UNK]");
        Assert.Equal([unk, unk], encoder.EncodeText("pink hexagon"));
        var e = Assert.Throws<Sjd2Exception>(() => encoder.Tokenize("a big pink hexagon"));
        Assert.Contains("'pink', 'hexagon'", e.Message);
    }

    /// <summary>
    /// The default model's prompt encoder: from its manifest when onnx/model.json is there,
    /// otherwise the manifest's tokenizer section as the exporter writes it (wordpiece, vocab.txt, lowercase).
    /// </summary>
    private PromptEncoder DefaultModelEncoder()
    {
        if (File.Exists(Path.Combine(ModelDir, "model.json")))
        {
            var manifest = ManifestReader.Load(ModelDir);
            output.WriteLine($"tokenizer of onnx/model.json: {manifest.Tokenizer.Type}, lowercase {manifest.Tokenizer.Lowercase}");
            return new PromptEncoder(ModelDir, manifest);
        }
        string vocab = Path.Combine(ModelDir, "vocab.txt");
        Assert.True(File.Exists(vocab), $"the default model's vocab is missing at '{vocab}'; it is written with onnx/shapes_world.json by tools/pysjd2/demo.py.");
        output.WriteLine("no onnx/model.json yet: tokenizer section built here (wordpiece, vocab.txt, lowercase)");
        return new PromptEncoder(ModelDir, new ModelManifest
        {
            Name = "shapes-tokenizer-only",
            Transformer = new TransformerSpec(8, 1, 1, 8, 64),
            Image = new ImageSpec(1, 1, 2, 1, 1, -1, 1),
            Tokenizer = new TokenizerSpec("wordpiece", new Dictionary<string, string> { ["vocab"] = "vocab.txt" }, true, 64),
            Sequence = new SequenceSpec([1], [], [2], null, [3]),
            Cfg = new CfgSpec("empty_prompt", 0, null),
            Sampling = new SamplingSettings(1, 1, 0, 1),
            Graphs = new GraphFiles("a", "b", "c", "d"),
        });
    }

    private static List<(string Text, int[] Ids)> PythonCases()
    {
        string path = Path.Combine(ShapesTestData.DataDir, "token_ids.json");
        Assert.True(File.Exists(path), $"'{path}' is missing; it is written by tools/pysjd2/shapes.py write_test_data().");
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        return doc.RootElement.GetProperty("captions").EnumerateArray()
            .Select(c => (c.GetProperty("text").GetString()!, c.GetProperty("ids").EnumerateArray().Select(i => i.GetInt32()).ToArray()))
            .ToList();
    }
}
