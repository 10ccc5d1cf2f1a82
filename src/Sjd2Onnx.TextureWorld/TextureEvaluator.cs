using Sjd2Onnx.Imaging;
using Sjd2Onnx.Sampling;

namespace Sjd2Onnx.Evaluation;

/// <summary>
/// Scores images of the entropy-world model against their prompts: the engine's port of the
/// Python TextureEval (<c>tools/pysjd2/texture_eval.py</c>), with the same constants and rules
/// and the same verdicts. Also draws prompts from the world's caption grammar. Thread-safe.
/// </summary>
public sealed class TextureEvaluator
{
    /// <summary>The evaluator's version, quoted next to every accuracy figure (the Python evaluator's).</summary>
    public const string Version = "TextureEval v1";

    // texture_eval.py's constants: saturation and value a pixel needs to carry a colour; a colour's
    // regions below MinArea are specks, a group below MinObjectArea is a fragment (still counted).
    internal const float SatMin = 0.3f;
    internal const float ValMin = 0.2f;
    internal const int MinArea = 6;
    internal const int MinObjectArea = 30;

    // Overlap a kind needs (MIN_IOU), and a colour's regions need to be one occluded object
    // (MERGE_IOU), both 0.8 compared with the score rounded to three decimals, as Python does.
    internal const int MinIouThousandths = 800;
    internal const int MergeIouThousandths = 800;

    /// <summary>A template pixel on another colour counts this much against a fit.</summary>
    internal const double OccluderWeight = 0.4;

    /// <summary>A relation needs the centres this far apart along its axis (and no farther apart along the other).</summary>
    internal const double RelationMinGap = 4.0;

    private const ulong HeldOutStream = 0x48454C444F5554UL;

    /// <summary>The attribute keys of a score, in reporting order.</summary>
    public static readonly IReadOnlyList<string> AttributeNames = ["count", "color", "shape", "size", "position", "relation"];

    private readonly TextureDetector _detector;

    private TextureEvaluator(TextureWorld world)
    {
        World = world;
        _detector = new TextureDetector(world);
    }

    /// <summary>The world definition prompts are drawn from and images are scored against.</summary>
    public TextureWorld World { get; }

    /// <summary>Loads the world definition (<c>texture_world.json</c>) of the entropy-world model.</summary>
    /// <exception cref="Sjd2Exception">The file is missing or invalid.</exception>
    public static TextureEvaluator Load(string worldJsonPath) => new(TextureWorld.Load(worldJsonPath));

    /// <summary>An evaluator for an already loaded world definition.</summary>
    public static TextureEvaluator Create(TextureWorld world)
    {
        ArgumentNullException.ThrowIfNull(world);
        return new TextureEvaluator(world);
    }

    /// <summary>Parses a prompt into the attributes it states; null when it is not in the world's grammar.</summary>
    public TexturePrompt? Parse(string prompt) => TexturePrompt.Parse(World, prompt);

    /// <summary>Scores an image against the attributes its prompt states.</summary>
    /// <exception cref="Sjd2Exception">The prompt is not in the world's grammar, or the image is not of the world's size.</exception>
    public TextureScore Score(string prompt, RgbImage image)
    {
        var expected = Parse(prompt)
            ?? throw new Sjd2Exception($"the prompt \"{prompt}\" is not in the texture world's grammar (e.g. \"a red striped circle on the left\", \"a big blue square above a small green triangle\").");
        return Score(expected, image);
    }

    /// <summary>Scores an image against already parsed prompt attributes.</summary>
    /// <exception cref="Sjd2Exception">The image is not of the world's size.</exception>
    public TextureScore Score(TexturePrompt expected, RgbImage image)
    {
        ArgumentNullException.ThrowIfNull(expected);
        ArgumentNullException.ThrowIfNull(image);
        var found = _detector.Detect(image);
        var objs = expected.Objects;
        // per stated object, the largest whole object of its colour (the first on a tie)
        var match = objs.Select(o => found.Where(f => !f.Fragment && f.Color == o.Color)
            .Aggregate((TextureDetection?)null, (best, f) => best is null || f.Pixels > best.Pixels ? f : best)).ToList();
        var fits = match.Select(m => m?.Fit).ToList();
        bool color = fits.All(f => f is not null);
        var res = new Dictionary<string, bool?>
        {
            ["count"] = found.Count == objs.Count,
            ["color"] = color,
            ["shape"] = color && objs.Select((o, i) => fits[i]!.Kind == o.Kind && PythonFloat.Round3AtLeast(fits[i]!.Iou, MinIouThousandths)).All(b => b),
            ["size"] = color && objs.Select((o, i) => o.Size is null || SizeOf(fits[i]!.Extent) == o.Size).All(b => b),
            ["position"] = null,
            ["relation"] = null,
        };
        var placed = new List<(int Index, string Region)>();
        if (expected.Position is not null) placed.Add((0, expected.Position));
        if (expected.ThirdPosition is not null) placed.Add((2, expected.ThirdPosition));
        if (placed.Count > 0)
            res["position"] = placed.All(p => p.Index < fits.Count && fits[p.Index] is { } f && RegionOf(f.X, f.Y) == p.Region);
        if (expected.Relation is not null)
            res["relation"] = fits.Count >= 2 && fits[0] is { } a && fits[1] is { } b && RelationHolds(expected.Relation, a, b);
        return new TextureScore(expected, res, found.Count);
    }

    /// <summary>
    /// Draws prompts from the world's caption grammar with a seeded random stream (the same seed
    /// gives the same prompts). With <paramref name="heldOut"/> false, no object is a held-out
    /// colour+shape pair; with true, every prompt has one.
    /// </summary>
    public IReadOnlyList<string> DrawPrompts(int count, ulong seed, bool heldOut)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var rng = new SeededRandom(seed ^ (heldOut ? HeldOutStream : 0UL));
        var prompts = new List<string>(count);
        for (int i = 0; i < count; i++) prompts.Add(TextureCaptions.Draw(World, rng, heldOut));
        return prompts;
    }

    private string SizeOf(double extent) => extent > World.SizeThreshold ? "big" : "small";

    // texture_world.region_of: the cell of the 3x3 grid of thirds, the border cells extended outwards.
    private string? RegionOf(double x, double y)
    {
        int col = (int)Math.Clamp(PythonFloat.FloorDiv(x * 3, World.ImageSize), 0, 2);
        int row = (int)Math.Clamp(PythonFloat.FloorDiv(y * 3, World.ImageSize), 0, 2);
        return World.Regions.FirstOrDefault(r => r.Column == col && r.Row == row).Name;
    }

    // texture_world.relation_holds with the evaluator's gap and a skew of at most the main distance.
    private bool RelationHolds(string relation, TextureShapeFit first, TextureShapeFit second)
    {
        var rel = World.Relations.First(r => r.Name == relation);
        double dx = second.X - first.X, dy = second.Y - first.Y;
        double main = (rel.Axis == 0 ? dx : dy) * rel.Sign;
        double other = rel.Axis == 0 ? dy : dx;
        return main >= RelationMinGap && Math.Abs(other) <= 1.0 * main;
    }
}
