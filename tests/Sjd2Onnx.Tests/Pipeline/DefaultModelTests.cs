using Sjd2Onnx.Evaluation;
using Sjd2Onnx.Tests.Support;

namespace Sjd2Onnx.Tests;

/// <summary>
/// The model shipped in onnx/: its graphs match the PyTorch weights it was exported from, and the
/// engine draws images from it that ShapesEval accepts. Seeds are fixed, so these verdicts are
/// deterministic; the thresholds leave room for floating-point differences between machines, not
/// for a broken engine (a wrong guidance sign, position or cache turns most verdicts to failures).
/// </summary>
public class DefaultModelTests
{
    private static string ModelDir => Path.Combine(TestPaths.RepoRoot, "onnx");

    private static ShapesEvaluator Evaluator() => ShapesEvaluator.Load(Path.Combine(ModelDir, "shapes_world.json"));

    [Fact]
    public void ShippedGraphsMatchTheirPyTorchReference()
    {
        var cli = Sjd2Cli.Run("parity", "--model", ModelDir);
        Assert.True(cli.ExitCode == 0, cli.ToString());
        Assert.Contains("parity ok", cli.Stdout);
    }

    [Fact]
    public async Task QuickStartPromptGivesThatImage()
    {
        const string prompt = "a red circle above a blue square";
        var evaluator = Evaluator();
        using var pipeline = Sjd2Pipeline.Load(ModelDir);
        var failures = new List<string>();
        for (ulong seed = 0; seed < 4; seed++)
        {
            var result = await pipeline.GenerateAsync(prompt, new GenerationOptions { Seed = seed, Decoding = new ArOptions() });
            var score = evaluator.Score(prompt, result.Image);
            if (!score.Overall) failures.Add($"seed {seed}: {score.Failures}");
        }
        Assert.True(failures.Count <= 1, string.Join("; ", failures));
    }

    // SJD2 is approximate: these rows hold its inputs to what the model was trained on. Feeding
    // noisy slots anything but their draft token's noised embedding (the earlier latent that
    // carried superseded drafts) scored 52-80 % here and fails them.
    [Theory]
    [InlineData(DecodingMethod.Ar, 16)]
    [InlineData(DecodingMethod.SjdPlusPlus, 16)]
    [InlineData(DecodingMethod.Sjd2, 16)]
    [InlineData(DecodingMethod.Sjd2, 64)]
    public async Task GrammarPromptsAreMostlyDrawnRight(DecodingMethod method, int window)
    {
        var evaluator = Evaluator();
        var prompts = evaluator.DrawPrompts(16, seed: 2024, heldOut: false);
        using var pipeline = Sjd2Pipeline.Load(ModelDir);
        var failures = new List<string>();
        for (int i = 0; i < prompts.Count; i++)
        {
            var options = new GenerationOptions { Seed = (ulong)i, Decoding = method == DecodingMethod.Ar ? new ArOptions() : TestDecoding.For(method, Window: window) };
            var result = await pipeline.GenerateAsync(prompts[i], options);
            var score = evaluator.Score(prompts[i], result.Image);
            if (!score.Overall) failures.Add($"'{prompts[i]}': {score.Failures}");
        }
        // The model scores about 0.95 (docs/default-model.md); 13 of 16 is far below a working
        // engine's expectation and far above a broken one's.
        Assert.True(failures.Count <= 3, $"{failures.Count} of {prompts.Count} wrong: " + string.Join("; ", failures));
    }
}
