using Sjd2Onnx.Evaluation;
using Sjd2Onnx.Imaging;

namespace Sjd2Onnx.Cli.Commands;

/// <summary>
/// Prompt source and image scorer of <c>sjd2 bench</c>: the ShapesEval evaluator when the model
/// folder has a <c>shapes_world.json</c>, TextureEval when it has a <c>texture_world.json</c>
/// (entropy world; no fidelity), otherwise a fixed prompt list and no accuracy.
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
    private readonly TextureEvaluator? _texture;
    private readonly Dictionary<string, List<(ShapesPrompt Prompt, ShapesSceneMeasure Measure)>> _measures = [];
    private readonly Dictionary<string, (ShapesFidelityReport, ShapesFidelityReport)> _fidelity = []; // rendering the reference is not free

    private BenchScorer(string? worldPath, ShapesEvaluator? evaluator, TextureEvaluator? texture = null)
    {
        WorldPath = worldPath;
        _evaluator = evaluator;
        _texture = texture;
    }

    /// <summary>The world file scoring uses; null when images are not scored.</summary>
    public string? WorldPath { get; }

    /// <summary>Whether <see cref="Score"/> gives an answer.</summary>
    public bool CanScore => _evaluator is not null || _texture is not null;

    /// <summary>The scoring evaluator's version; null when images are not scored.</summary>
    public string? Version => _evaluator is not null ? ShapesEvaluator.Version : _texture is not null ? TextureEvaluator.Version : null;

    /// <summary>
    /// Loads the evaluator of the model folder's world: <c>shapes_world.json</c> (ShapesEval) or
    /// <c>texture_world.json</c> (TextureEval), when there is one.
    /// </summary>
    public static BenchScorer Load(string modelDir)
    {
        string world = Path.Combine(modelDir, ShapesWorld.FileName);
        if (File.Exists(world)) return new BenchScorer(world, ShapesEvaluator.Load(world));
        string texture = Path.Combine(modelDir, TextureWorld.FileName);
        return File.Exists(texture) ? new BenchScorer(texture, null, TextureEvaluator.Load(texture)) : new BenchScorer(null, null);
    }

    /// <summary>
    /// <paramref name="count"/> prompts: drawn from the evaluator's caption grammar (held-out
    /// colour+shape pairs when <paramref name="heldOut"/>) when there is one, otherwise the
    /// built-in list, repeated as needed.
    /// </summary>
    public IReadOnlyList<string> Prompts(int count, ulong seed, bool heldOut) =>
        _evaluator?.DrawPrompts(count, seed, heldOut)
        ?? _texture?.DrawPrompts(count, seed, heldOut)
        ?? Enumerable.Range(0, count).Select(i => FallbackPrompts[i % FallbackPrompts.Length]).ToList();

    /// <summary>
    /// Whether the image shows what the prompt asks for; null without an evaluator or for a prompt
    /// outside its grammar. The image's free attributes are kept under <paramref name="method"/> for <see cref="Fidelity"/>.
    /// </summary>
    public bool? Score(string method, string prompt, RgbImage image)
    {
        if (_texture is not null) return _texture.Parse(prompt) is { } wanted ? _texture.Score(wanted, image).Overall : null;
        if (_evaluator is null || _evaluator.Parse(prompt) is not { } expected) return null;
        var score = _evaluator.Score(expected, image);
        if (!_measures.TryGetValue(method, out var list)) _measures[method] = list = [];
        list.Add((expected, ShapesFidelity.Measure(_evaluator, score, _evaluator.MeasureBackground(image))));
        _fidelity.Remove(method);
        return score.Overall;
    }

    /// <summary>
    /// The fidelity gap of a method's scored images to the world for the same prompts, and the gap
    /// one world scene per prompt has (the floor at this number of images); null when nothing was scored
    /// or the world has no fidelity measure (the entropy world).
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
