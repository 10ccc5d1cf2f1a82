using Sjd2Onnx.Imaging;
using Sjd2Onnx.Sampling;

namespace Sjd2Onnx.Evaluation;

/// <summary>
/// Fidelity of generated scenes to the shapes world: for the same prompts, the distribution of
/// what the prompt leaves free (the size when none is stated, a single shape's position jitter, a
/// pair's shared shift, the background's shade and texture, the number of shapes) in the generated
/// images against the same attributes measured, by the same detector, on scenes the world's own
/// rules draw and render for those prompts. Accuracy says whether the stated attributes are right;
/// this says whether the unstated ones vary as the world makes them vary (a model that always draws
/// the same size, place and background can be accurate and still collapsed).
/// <para>Distances: total variation for the categorical attributes (size, shade, texture, count
/// delta); for the positional ones the 1-D Wasserstein distance in pixels divided by the world's
/// jitter range on that attribute (position jitter, pair shift), capped at 1. The score is their
/// mean. Two independent samples of the world for the same prompts are not at 0: compare with
/// <see cref="NoiseFloor"/> for the same prompts.</para>
/// </summary>
public static class ShapesFidelity
{
    /// <summary>The attributes compared, in reporting order.</summary>
    public static readonly IReadOnlyList<string> AttributeNames = ["size", "jitter", "pair_shift", "shade", "texture", "count"];

    /// <summary>Measures the attributes of one image against its prompt.</summary>
    public static ShapesSceneMeasure Measure(ShapesEvaluator evaluator, ShapesPrompt prompt, RgbImage image) =>
        Measure(evaluator, evaluator.Score(prompt, image), evaluator.MeasureBackground(image));

    /// <summary>Measures the attributes of a scored image against its prompt.</summary>
    public static ShapesSceneMeasure Measure(ShapesEvaluator evaluator, ShapesScore score, ShapesBackground background)
    {
        var world = evaluator.World;
        var prompt = score.Expected;
        var matched = score.Matched;
        string biggest = world.Sizes.MaxBy(s => s.Pixels).Name;
        var unstated = new List<bool>();
        for (int i = 0; i < prompt.Objects.Count && i < matched.Count; i++)
            if (prompt.Objects[i].Size is null && matched[i] is { } d) unstated.Add(d.Size == biggest);
        (double, double)? offset = null;
        double? shift = null;
        if (prompt.Position is not null && matched.Count > 0 && matched[0] is { } one)
        {
            var pos = world.Positions.First(p => p.Name == prompt.Position);
            offset = (one.X - pos.X, one.Y - pos.Y);
        }
        if (prompt.Relation is not null && matched.Count > 1 && matched[0] is { } a && matched[1] is { } b)
        {
            var rel = world.Relations.First(r => r.Name == prompt.Relation);
            bool vertical = rel.First.X == rel.Second.X;
            shift = vertical ? (a.X - rel.First.X + b.X - rel.Second.X) / 2 : (a.Y - rel.First.Y + b.Y - rel.Second.Y) / 2;
        }
        return new ShapesSceneMeasure(score.Detected.Count - prompt.Objects.Count, unstated, offset, shift, background);
    }

    /// <summary>World scenes drawn per prompt for the reference side, so that its own sampling noise is small.</summary>
    public const int ReferenceScenesPerPrompt = 8;

    /// <summary>
    /// The world's side: for every prompt <paramref name="perPrompt"/> scenes drawn by the world's
    /// rules (seeded), rendered and measured like generated images.
    /// </summary>
    public static List<ShapesSceneMeasure> WorldSample(ShapesEvaluator evaluator, IEnumerable<ShapesPrompt> prompts, ulong seed, int perPrompt = 1)
    {
        var rng = new SeededRandom(seed ^ 0x574F524C44UL);
        var measures = new List<ShapesSceneMeasure>();
        foreach (var p in prompts)
            for (int k = 0; k < perPrompt; k++)
            {
                var scene = ShapesRenderer.Sample(evaluator.World, p, rng);
                measures.Add(Measure(evaluator, p, ShapesRenderer.Render(evaluator.World, scene)));
            }
        return measures;
    }

    /// <summary>The reference for a set of prompts: <see cref="ReferenceScenesPerPrompt"/> world scenes per prompt (seed 0).</summary>
    public static List<ShapesSceneMeasure> Reference(ShapesEvaluator evaluator, IReadOnlyList<ShapesPrompt> prompts) =>
        WorldSample(evaluator, prompts, 0, ReferenceScenesPerPrompt);

    /// <summary>
    /// Fidelity of a perfect generator at this number of prompts: one world scene per prompt (seed 1)
    /// against the reference. A generated set scoring within about this much is as close to the
    /// world as one image per prompt can show.
    /// </summary>
    public static ShapesFidelityReport NoiseFloor(ShapesEvaluator evaluator, IReadOnlyList<ShapesPrompt> prompts, IReadOnlyList<ShapesSceneMeasure> reference) =>
        Compare(evaluator.World, WorldSample(evaluator, prompts, 1), reference);

    /// <summary>The distances between two sets of measurements (generated first, reference second).</summary>
    public static ShapesFidelityReport Compare(ShapesWorld world, IReadOnlyList<ShapesSceneMeasure> generated, IReadOnlyList<ShapesSceneMeasure> reference)
    {
        var d = new Dictionary<string, double>();
        void Add(string name, double? v) { if (v is double x) d[name] = Math.Min(1, x); }

        Add("size", Tv(generated.SelectMany(m => m.UnstatedSizes).Select(b => b ? 1 : 0), reference.SelectMany(m => m.UnstatedSizes).Select(b => b ? 1 : 0)));
        double jitter = Math.Max(1, world.PositionJitter);
        var jx = W1(generated.Where(m => m.Offset is not null).Select(m => m.Offset!.Value.X), reference.Where(m => m.Offset is not null).Select(m => m.Offset!.Value.X));
        var jy = W1(generated.Where(m => m.Offset is not null).Select(m => m.Offset!.Value.Y), reference.Where(m => m.Offset is not null).Select(m => m.Offset!.Value.Y));
        if (jx is double x && jy is double y) Add("jitter", Math.Min(1, x / jitter) / 2 + Math.Min(1, y / jitter) / 2);
        Add("pair_shift", W1(generated.Where(m => m.PairShift is not null).Select(m => m.PairShift!.Value),
            reference.Where(m => m.PairShift is not null).Select(m => m.PairShift!.Value)) / Math.Max(1, world.RelationShift));
        Add("shade", Tv(generated.Select(m => m.Background.Shade), reference.Select(m => m.Background.Shade)));
        Add("texture", Tv(generated.Select(m => m.Background.Textured ? 1 : 0), reference.Select(m => m.Background.Textured ? 1 : 0)));
        Add("count", Tv(generated.Select(m => Math.Clamp(m.CountDelta, -2, 2)), reference.Select(m => Math.Clamp(m.CountDelta, -2, 2))));
        return new ShapesFidelityReport(d.Count == 0 ? 0 : d.Values.Average(), d, generated.Count);
    }

    /// <summary>Total variation distance between two empirical categorical distributions; null when either is empty.</summary>
    internal static double? Tv(IEnumerable<int> a, IEnumerable<int> b)
    {
        var xa = a.ToList();
        var xb = b.ToList();
        if (xa.Count == 0 || xb.Count == 0) return null;
        return xa.Concat(xb).Distinct().Sum(v => Math.Abs(xa.Count(x => x == v) / (double)xa.Count - xb.Count(x => x == v) / (double)xb.Count)) / 2;
    }

    /// <summary>1-D Wasserstein-1 distance between two empirical distributions (the area between their CDFs); null when either is empty.</summary>
    internal static double? W1(IEnumerable<double> a, IEnumerable<double> b)
    {
        var xa = a.Order().ToArray();
        var xb = b.Order().ToArray();
        if (xa.Length == 0 || xb.Length == 0) return null;
        var all = xa.Concat(xb).Order().ToArray();
        double sum = 0;
        int ia = 0, ib = 0;
        for (int i = 0; i < all.Length - 1; i++)
        {
            while (ia < xa.Length && xa[ia] <= all[i]) ia++;
            while (ib < xb.Length && xb[ib] <= all[i]) ib++;
            sum += Math.Abs(ia / (double)xa.Length - ib / (double)xb.Length) * (all[i + 1] - all[i]);
        }
        return sum;
    }
}
