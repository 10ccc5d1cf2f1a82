using Sjd2Onnx.Evaluation;
using Sjd2Onnx.Imaging;

namespace Sjd2Onnx.Cli.Commands;

/// <summary>
/// Prompt source and image scorer of <c>sjd2 bench</c>: the ShapesEval evaluator when the model
/// folder has a <c>shapes_world.json</c>, otherwise a fixed prompt list and no accuracy.
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
        "a green square on the right",
        "an orange circle below a red triangle",
        "a small purple circle in the top left corner",
    ];

    private readonly ShapesEvaluator? _evaluator;
    private readonly Dictionary<string, List<(ShapesPrompt Prompt, ShapesSceneMeasure Measure)>> _measures = [];
    private readonly Dictionary<string, (ShapesFidelityReport, ShapesFidelityReport)> _fidelity = []; // rendering the reference is not free

    private BenchScorer(string? worldPath, ShapesEvaluator? evaluator)
    {
        WorldPath = worldPath;
        _evaluator = evaluator;
    }

    /// <summary>The world file scoring uses; null when images are not scored.</summary>
    public string? WorldPath { get; }

    /// <summary>Whether <see cref="Score"/> gives an answer.</summary>
    public bool CanScore => _evaluator is not null;

    /// <summary>Loads the evaluator from <c>shapes_world.json</c> in the model folder, when there is one.</summary>
    public static BenchScorer Load(string modelDir)
    {
        string world = Path.Combine(modelDir, "shapes_world.json");
        return File.Exists(world) ? new BenchScorer(world, ShapesEvaluator.Load(world)) : new BenchScorer(null, null);
    }

    /// <summary>
    /// <paramref name="count"/> prompts: drawn from the evaluator's caption grammar (held-out
    /// colour+shape pairs when <paramref name="heldOut"/>) when there is one, otherwise the
    /// built-in list, repeated as needed.
    /// </summary>
    public IReadOnlyList<string> Prompts(int count, ulong seed, bool heldOut) =>
        _evaluator?.DrawPrompts(count, seed, heldOut)
        ?? Enumerable.Range(0, count).Select(i => FallbackPrompts[i % FallbackPrompts.Length]).ToList();

    /// <summary>
    /// Whether the image shows what the prompt asks for; null without an evaluator or for a prompt
    /// outside its grammar. The image's free attributes are kept under <paramref name="method"/> for <see cref="Fidelity"/>.
    /// </summary>
    public bool? Score(string method, string prompt, RgbImage image)
    {
        if (_evaluator is null || _evaluator.Parse(prompt) is not { } expected) return null;
        var score = _evaluator.Score(expected, image);
        if (!_measures.TryGetValue(method, out var list)) _measures[method] = list = [];
        list.Add((expected, ShapesFidelity.Measure(_evaluator, score, _evaluator.MeasureBackground(image))));
        _fidelity.Remove(method);
        return score.Overall;
    }

    /// <summary>
    /// The fidelity gap of a method's scored images to the world for the same prompts, and the gap
    /// one world scene per prompt has (the floor at this number of images); null when nothing was scored.
    /// </summary>
    public (ShapesFidelityReport Fidelity, ShapesFidelityReport Floor)? Fidelity(string method)
    {
        if (_evaluator is null || !_measures.TryGetValue(method, out var list) || list.Count == 0) return null;
        if (_fidelity.TryGetValue(method, out var known)) return known;
        var prompts = list.Select(m => m.Prompt).ToList();
        var reference = ShapesFidelity.Reference(_evaluator, prompts);
        return _fidelity[method] = (ShapesFidelity.Compare(_evaluator.World, [.. list.Select(m => m.Measure)], reference),
            ShapesFidelity.NoiseFloor(_evaluator, prompts, reference));
    }
}
