using System.Text.Json;
using Sjd2Onnx.Evaluation;
using Xunit.Abstractions;

namespace Sjd2Onnx.Tests;

/// <summary>
/// The engine's TextureEval gives the Python evaluator's verdicts on every image of the fixture
/// (ground-truth renders, every corruption kind, noisy renders), attribute by attribute, and
/// parses every prompt as Python's <c>parse_caption</c> does.
/// </summary>
public sealed class TextureEvalAgreementTests(ITestOutputHelper output)
{
    private sealed record Case(string File, string Kind, string Prompt, JsonElement Parsed, IReadOnlyDictionary<string, bool?> Verdicts, int Objects);

    private static List<Case> Cases()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(TextureTestData.DataDir, "cases.json")));
        Assert.Equal(TextureEvaluator.Version, doc.RootElement.GetProperty("version").GetString());
        return doc.RootElement.GetProperty("cases").EnumerateArray().Select(c => new Case(
            c.GetProperty("file").GetString()!, c.GetProperty("kind").GetString()!, c.GetProperty("prompt").GetString()!,
            c.GetProperty("parsed").Clone(),
            c.GetProperty("verdicts").EnumerateObject().ToDictionary(p => p.Name,
                p => p.Value.ValueKind == JsonValueKind.Null ? (bool?)null : p.Value.GetBoolean()),
            c.GetProperty("objects").GetInt32())).ToList();
    }

    [Fact]
    public void FixtureCoversGroundTruthEveryCorruptionKindAndNoise()
    {
        var cases = Cases();
        var kinds = cases.GroupBy(c => c.Kind).ToDictionary(g => g.Key, g => g.ToList());
        foreach (var kind in new[] { "ground_truth", "color", "shape", "size", "position", "relation", "missing", "extra", "repaint", "fragment", "noisy" })
            Assert.True(kinds.ContainsKey(kind), $"the fixture has no '{kind}' case");
        Assert.True(kinds["ground_truth"].Count >= 30, $"only {kinds["ground_truth"].Count} ground-truth cases");
        // the colour rule is exercised both ways: accepted renders and rejected colour corruptions
        Assert.All(kinds["color"], c => Assert.False(c.Verdicts["color"]));
        Assert.Contains(kinds["ground_truth"], c => c.Verdicts["all"] == true);
        Assert.Contains(cases, c => c.Verdicts["shape"] == false && c.Verdicts["color"] == true);
    }

    [Fact]
    public void EveryVerdictEqualsPythonTextureEval()
    {
        var evaluator = TextureTestData.Evaluator;
        var mismatches = new List<string>();
        int compared = 0;
        foreach (var c in Cases())
        {
            var image = ShapesGroundTruth.ReadPng(Path.Combine(TextureTestData.DataDir, c.File));
            var score = evaluator.Score(c.Prompt, image);
            foreach (var name in TextureEvaluator.AttributeNames)
            {
                compared++;
                if (score.Attributes[name] != c.Verdicts[name])
                    mismatches.Add($"{c.File} ({c.Kind}) \"{c.Prompt}\": {name} is {Show(score.Attributes[name])} in C#, {Show(c.Verdicts[name])} in Python");
            }
            if (score.Overall != c.Verdicts["all"])
                mismatches.Add($"{c.File}: overall {score.Overall} in C#, {c.Verdicts["all"]} in Python");
            if (score.ObjectsFound != c.Objects)
                mismatches.Add($"{c.File}: {score.ObjectsFound} objects found in C#, {c.Objects} in Python");
        }
        output.WriteLine($"{compared} attribute verdicts compared, {mismatches.Count} mismatches");
        Assert.True(mismatches.Count == 0, string.Join(Environment.NewLine, mismatches));
    }

    [Fact]
    public void EveryPromptParsesAsPythonParseCaption()
    {
        var world = TextureTestData.Evaluator.World;
        foreach (var c in Cases())
        {
            var p = TexturePrompt.Parse(world, c.Prompt);
            Assert.NotNull(p);
            var want = c.Parsed;
            var objects = want.GetProperty("objects").EnumerateArray().Select(o => new TextureObject(
                Str(o, "size"), Str(o, "color")!, Str(o, "texture"), Str(o, "kind")!)).ToList();
            Assert.Equal(objects, p!.Objects);
            Assert.Equal(Str(want, "relation"), p.Relation);
            Assert.Equal(Str(want, "position"), p.Position);
            Assert.Equal(Str(want, "third_position"), p.ThirdPosition);
            Assert.Equal(Str(want, "background"), p.Background);
        }
    }

    private static string? Str(JsonElement e, string name) => e.GetProperty(name).ValueKind == JsonValueKind.Null ? null : e.GetProperty(name).GetString();

    private static string Show(bool? v) => v is null ? "None" : v.Value ? "True" : "False";
}
