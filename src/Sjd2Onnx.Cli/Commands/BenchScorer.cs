using Sjd2Onnx.Imaging;

namespace Sjd2Onnx.Cli.Commands;

/// <summary>
/// Prompt source and image scorer of <c>sjd2 bench</c>: the ShapesEval evaluator when the model
/// folder has a <c>shapes_world.json</c> and the evaluator is built in, otherwise a fixed prompt list
/// and no accuracy.
/// </summary>
internal sealed class BenchScorer
{
    // Short prompts every model of this project can tokenize (the shapes vocabulary).
    private static readonly string[] FallbackPrompts =
    [
        "a red circle",
        "a big blue square",
        "a small green triangle",
        "a yellow circle above a purple square",
        "a red triangle left of a blue circle",
        "two green squares",
        "an orange circle below a red triangle",
        "a small purple circle in the top left corner",
    ];

    private BenchScorer(string? worldPath) => WorldPath = worldPath;

    /// <summary>The world file scoring uses; null when images are not scored.</summary>
    public string? WorldPath { get; }

    /// <summary>Whether <see cref="Score"/> gives an answer.</summary>
    public bool CanScore => false; // EVALUATOR PLUG-IN: true once ShapesEvaluator is loaded (see Load)

    /// <summary>Looks for <c>shapes_world.json</c> in the model folder.</summary>
    public static BenchScorer Load(string modelDir)
    {
        string world = Path.Combine(modelDir, "shapes_world.json");
        // EVALUATOR PLUG-IN: when Sjd2Onnx.Evaluation.ShapesEvaluator is in this build, load it here
        // (ShapesEvaluator.Load(world)) and use it in Prompts and Score.
        return new BenchScorer(File.Exists(world) ? world : null);
    }

    /// <summary>
    /// <paramref name="count"/> prompts: drawn from the evaluator's held-out set when there is
    /// one, otherwise the built-in list, repeated as needed.
    /// </summary>
    public IReadOnlyList<string> Prompts(int count, ulong seed)
    {
        _ = seed; // EVALUATOR PLUG-IN: evaluator.DrawPrompts(count, seed, heldOut: true)
        return Enumerable.Range(0, count).Select(i => FallbackPrompts[i % FallbackPrompts.Length]).ToList();
    }

    /// <summary>Whether the image shows what the prompt asks for; null when images are not scored.</summary>
    public bool? Score(string prompt, RgbImage image)
    {
        _ = (prompt, image); // EVALUATOR PLUG-IN: evaluator.Score(prompt, image).Overall
        return null;
    }
}
