using System.Text.Json;
using Sjd2Onnx.Evaluation;
using Sjd2Onnx.Tests.Support;

namespace Sjd2Onnx.Tests;

/// <summary><c>sjd2 eval</c> end to end: the tiny random-weight model with the shapes world beside it, and the error lines.</summary>
public sealed class EvalCommandTests : IDisposable
{
    private static readonly string[] Fields = ["overall", "count", "color", "shape", "size", "position", "relation", "n"];
    private readonly string _temp = Directory.CreateTempSubdirectory("sjd2-eval-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    [Fact]
    public void DrawnPromptsGiveTrainingAndHeldOutAccuracies()
    {
        string model = ShapesModel();
        string json = Path.Combine(_temp, "eval.json");
        string images = Directory.CreateDirectory(Path.Combine(_temp, "images")).FullName;
        var (rc, stdout, stderr) = Sjd2("eval", "--prompts", "3", "--model", model, "--json", json, "--seed", "5", "--images", images, "--quiet");
        Assert.True(rc == 0, stderr);
        Assert.Contains("held-out (n=3)", stdout);
        Assert.Contains("overall", stdout);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var root = doc.RootElement;
        foreach (var f in Fields) Assert.True(root.TryGetProperty(f, out _), $"no '{f}' in the JSON");
        Assert.True(root.TryGetProperty("held_out", out var held));
        foreach (var f in Fields) Assert.True(held.TryGetProperty(f, out _), $"no 'held_out.{f}' in the JSON");
        Assert.Equal(3, root.GetProperty("n").GetInt32());
        Assert.InRange(root.GetProperty("overall").GetDouble(), 0, 1);
        Assert.Equal(6, root.GetProperty("samples").GetArrayLength());
        Assert.Equal("sjd++", root.GetProperty("method").GetString()); // the engine's default method, as in generate and the server
        Assert.Equal(ShapesEvaluator.Version, root.GetProperty("evaluator").GetString());
        Assert.Contains(ShapesEvaluator.Version, stdout);
        Assert.Contains("fidelity gap", stdout);
        foreach (var set in new[] { root, held })
        {
            var fidelity = set.GetProperty("fidelity");
            Assert.InRange(fidelity.GetProperty("score").GetDouble(), 0, 1);
            Assert.InRange(fidelity.GetProperty("world_vs_world").GetProperty("score").GetDouble(), 0, 1);
            Assert.True(fidelity.TryGetProperty("count", out _));
        }

        // the saved images scored again: the same verdicts, without generating
        string again = Path.Combine(_temp, "again.json");
        (rc, _, stderr) = Sjd2("eval", "--prompts", "3", "--model", model, "--json", again, "--seed", "5", "--rescore", images, "--quiet");
        Assert.True(rc == 0, stderr);
        using var doc2 = JsonDocument.Parse(File.ReadAllText(again));
        Assert.Equal(root.GetProperty("overall").GetDouble(), doc2.RootElement.GetProperty("overall").GetDouble());
        Assert.Equal(root.GetProperty("fidelity").GetProperty("score").GetDouble(), doc2.RootElement.GetProperty("fidelity").GetProperty("score").GetDouble());
        Assert.Equal(root.GetProperty("samples").EnumerateArray().Select(x => x.GetProperty("overall").GetBoolean()),
            doc2.RootElement.GetProperty("samples").EnumerateArray().Select(x => x.GetProperty("overall").GetBoolean()));
        AssertError(["eval", "--prompts", "4", "--model", model, "--rescore", images], "is missing");
        AssertError(["eval", "--prompts", "3", "--model", model, "--rescore", Path.Combine(_temp, "nowhere")], "--rescore folder");
    }

    [Fact]
    public void PromptFileGivesOneSet()
    {
        string model = ShapesModel();
        string prompts = Path.Combine(_temp, "prompts.txt");
        File.WriteAllLines(prompts, ["# comment", "a red circle on the left", "", "a big blue square above a small green triangle"]);
        string json = Path.Combine(_temp, "eval.json");
        var (rc, stdout, stderr) = Sjd2("eval", "--prompts", prompts, "--model", model, "--json", json, "--quiet");
        Assert.True(rc == 0, stderr);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        Assert.Equal(2, doc.RootElement.GetProperty("n").GetInt32());
        Assert.False(doc.RootElement.TryGetProperty("held_out", out _));
        Assert.DoesNotContain("held-out", stdout);
    }

    [Fact]
    public void EntropyWorldModelIsScoredByTextureEval()
    {
        // The tiny model with the entropy world beside it (image size set to its 16 px) and no shapes world.
        string model = Path.Combine(_temp, "tiny-texture");
        Directory.CreateDirectory(model);
        foreach (var f in Directory.GetFiles(Path.Combine(ShapesTestData.RepoRoot, "tests", "models", "tiny"))) File.Copy(f, Path.Combine(model, Path.GetFileName(f)));
        var world = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(TextureTestData.DataDir, TextureWorld.FileName)))!;
        world["image_size"] = 16;
        File.WriteAllText(Path.Combine(model, TextureWorld.FileName), world.ToJsonString());
        string prompts = Path.Combine(_temp, "texture.txt");
        File.WriteAllLines(prompts, ["a red circle above a blue square", "a big green triangle in the center"]);
        string json = Path.Combine(_temp, "texture.json");
        var (rc, stdout, stderr) = Sjd2("eval", "--prompts", prompts, "--model", model, "--json", json, "--quiet");
        Assert.True(rc == 0, stderr);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var root = doc.RootElement;
        Assert.Equal(TextureEvaluator.Version, root.GetProperty("evaluator").GetString());
        Assert.Contains(TextureEvaluator.Version, stdout);
        Assert.DoesNotContain("fidelity", stdout);
        Assert.False(root.TryGetProperty("fidelity", out _));
        foreach (var f in Fields) Assert.True(root.TryGetProperty(f, out _), $"no '{f}' in the JSON");
        Assert.Equal(2, root.GetProperty("n").GetInt32());
        // the pair states no region and the single object no relation: those verdicts are left out
        var samples = root.GetProperty("samples").EnumerateArray().ToList();
        Assert.False(samples[0].GetProperty("attributes").TryGetProperty("position", out _));
        Assert.False(samples[1].GetProperty("attributes").TryGetProperty("relation", out _));
        AssertError(["eval", "--validate", TextureTestData.DataDir, "--model", model], "tools.pysjd2.texture_eval");
        string bad = Path.Combine(_temp, "bad-texture.txt");
        File.WriteAllLines(bad, ["a red circle"]);
        AssertError(["eval", "--prompts", bad, "--model", model], "texture world's grammar");
    }

    [Fact]
    public void ErrorsAreOneLine()
    {
        string tiny = Path.Combine(ShapesTestData.RepoRoot, "tests", "models", "tiny");
        AssertError(["eval", "--prompts", "2", "--model", tiny],
            "this model has no shapes_world.json or texture_world.json; sjd2 eval works with the shapes demo model and entropy-world models");
        string model = ShapesModel();
        AssertError(["eval", "--prompts", "2", "--model", model, "--json", Path.Combine(_temp, "missing", "e.json")], "--json folder");
        AssertError(["eval", "--model", model], "eval needs --prompts");
        AssertError(["eval", "--prompts", Path.Combine(_temp, "nothing.txt"), "--model", model], "is neither");
        string bad = Path.Combine(_temp, "bad.txt");
        File.WriteAllLines(bad, ["a red circle on the left", "a pink hexagon"]);
        AssertError(["eval", "--prompts", bad, "--model", model], "bad.txt:2:");
        AssertError(["eval", "--prompts", "2", "--model", model, "--bogus", "1"], "no option --bogus");
        AssertError(["eval", "--validate", ShapesTestData.DataDir, "--world", ShapesTestData.WorldPath, "--method", "sjd"], "'eval --validate' has no option --method");
        AssertError(["eval", "stray", "--prompts", "2", "--model", model], "'eval' takes no positional argument (got 'stray')");
    }

    [Fact]
    public void ValidatePrintsTheGroundTruthAgreement()
    {
        string json = Path.Combine(_temp, "validate.json");
        var (rc, stdout, stderr) = Sjd2("eval", "--validate", ShapesTestData.DataDir, "--world", ShapesTestData.WorldPath, "--json", json, "--corruptions", "10", "--quiet");
        Assert.True(rc == 0, stdout + stderr);
        Assert.Contains("agreement with their own captions", stdout);
        Assert.Contains("validate ok", stdout);
        Assert.Contains("repaint-25", stdout);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        Assert.True(doc.RootElement.GetProperty("agreement").GetDouble() >= 0.99);
        var corruptions = doc.RootElement.GetProperty("corruptions");
        Assert.Equal(ShapesCorruptionSet.Kinds, corruptions.EnumerateObject().Select(p => p.Name));
        Assert.Equal(10, corruptions.GetProperty("clean").GetProperty("accepted").GetInt32());
        Assert.Equal(0, corruptions.GetProperty("duplicate").GetProperty("accepted").GetInt32());
    }

    /// <summary>A copy of the tiny test model with the shapes world beside it (16×16 images, scored at scale).</summary>
    private string ShapesModel()
    {
        string dir = Path.Combine(_temp, "model");
        if (Directory.Exists(dir)) return dir;
        Directory.CreateDirectory(dir);
        foreach (var f in Directory.GetFiles(Path.Combine(ShapesTestData.RepoRoot, "tests", "models", "tiny")))
            File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
        File.Copy(ShapesTestData.WorldPath, Path.Combine(dir, ShapesWorld.FileName));
        // The world's grammar in words the model knows: the demo's vocabulary (the same special
        // tokens first, fewer words, so every id fits the tiny model's table).
        File.Copy(Path.Combine(ShapesTestData.RepoRoot, "onnx", "vocab.txt"), Path.Combine(dir, "vocab.txt"), overwrite: true);
        return dir;
    }

    private static void AssertError(string[] args, string expected)
    {
        var (rc, _, stderr) = Sjd2(args);
        Assert.Equal(2, rc);
        Assert.Contains(expected, stderr);
        Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    private static (int Code, string Stdout, string Stderr) Sjd2(params string[] args)
    {
        var r = Sjd2Cli.Run(args);
        return (r.ExitCode, r.Stdout, r.Stderr);
    }
}
