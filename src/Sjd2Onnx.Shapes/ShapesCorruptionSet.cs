using Sjd2Onnx.Sampling;

namespace Sjd2Onnx.Evaluation;

/// <summary>
/// The corruption validation set: scenes drawn by the world's rules for prompts of its grammar,
/// rendered by <see cref="ShapesRenderer"/>, each with one defect in one shape that the evaluator
/// must reject (or none, for the clean control): a patch of another palette colour covering a given
/// share of the shape, a bite (a disc of background cut from the rim), a tear (a background strip
/// across the shape), a duplicated shape, a stray fragment of a prompt colour, a size off by a few
/// pixels. Deterministic: the same seed draws the same images.
/// </summary>
public static class ShapesCorruptionSet
{
    /// <summary>The kinds, in reporting order: the clean control first.</summary>
    public static readonly IReadOnlyList<string> Kinds =
    [
        "clean", "repaint-10", "repaint-15", "repaint-20", "repaint-25", "repaint-33", "repaint-40",
        "bite-10", "bite-15", "bite-25", "tear", "duplicate", "fragment", "size-2px", "size-4px",
    ];

    /// <summary>Images a kind that <c>sjd2 eval --validate</c> and the tests draw.</summary>
    public const int DefaultPerKind = 100;

    /// <summary>The seed <c>sjd2 eval --validate</c> and the tests draw with.</summary>
    public const ulong DefaultSeed = 1;

    /// <summary>
    /// The evaluator's targets on this set: for <c>clean</c> the least share accepted, for the
    /// defects the least share rejected. Kinds without a target (small repaints and bites, a size
    /// 2 px off) are reported to show where the evaluator's sight ends.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, double> Targets = new Dictionary<string, double>
    {
        ["clean"] = 0.99,
        ["repaint-15"] = 0.90,
        ["repaint-20"] = 0.95,
        ["repaint-25"] = 0.95,
        ["repaint-33"] = 0.95,
        ["repaint-40"] = 0.95,
        ["bite-15"] = 0.95,
        ["bite-25"] = 0.95,
        ["tear"] = 0.95,
        ["duplicate"] = 0.95,
        ["fragment"] = 0.95,
        ["size-4px"] = 0.95,
    };

    /// <summary>Whether a kind's acceptance meets its target (true for kinds without one).</summary>
    public static bool Meets(string kind, double acceptance) =>
        !Targets.TryGetValue(kind, out var t) || (kind == "clean" ? acceptance >= t : 1 - acceptance >= t);

    /// <summary>Draws <paramref name="perKind"/> images of every kind; every fifth prompt has a held-out colour+shape pair.</summary>
    internal static List<ShapesCorruptionCase> Generate(ShapesEvaluator evaluator, int perKind, ulong seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(perKind);
        var world = evaluator.World;
        var cases = new List<ShapesCorruptionCase>();
        for (int k = 0; k < Kinds.Count; k++)
        {
            string kind = Kinds[k];
            var rng = new SeededRandom(seed * 1000003UL + (ulong)k);
            var prompts = evaluator.DrawPrompts(perKind * 2, seed + (ulong)k, heldOut: false);
            var held = evaluator.DrawPrompts(perKind * 2, seed + (ulong)k, heldOut: true);
            int made = 0;
            for (int i = 0; made < perKind && i < prompts.Count; i++)
            {
                string prompt = i % 5 == 4 ? held[i] : prompts[i];
                var scene = ShapesRenderer.Sample(world, evaluator.Parse(prompt)!, rng);
                var paints = Corrupt(world, scene, kind, rng);
                if (paints is null) continue; // no free place for a duplicate or fragment
                cases.Add(new ShapesCorruptionCase(kind, prompt, ShapesRenderer.Render(world, scene.Background, scene.Textured, paints)));
                made++;
            }
        }
        return cases;
    }

    /// <summary>Draws the set and scores every image against its prompt.</summary>
    public static ShapesCorruptionReport Evaluate(ShapesEvaluator evaluator, int perKind, ulong seed)
    {
        var cases = Generate(evaluator, perKind, seed);
        return new ShapesCorruptionReport([.. Kinds.Select(k =>
        {
            var ofKind = cases.Where(c => c.Kind == k).ToList();
            return (k, ofKind.Count(c => evaluator.Score(c.Prompt, c.Image).Overall), ofKind.Count);
        })]);
    }

    /// <summary>The paint steps of the scene with the defect; null when it cannot be placed.</summary>
    private static List<ShapesPaint>? Corrupt(ShapesWorld world, ShapesScene scene, string kind, SeededRandom rng)
    {
        var objects = scene.Objects.ToList();
        int k = rng.NextInt(objects.Count);
        var o = objects[k];
        var extra = new List<ShapesPaint>();
        switch (kind.Split('-')[0])
        {
            case "clean":
                break;
            case "repaint":
                {
                    double share = int.Parse(kind[8..], System.Globalization.CultureInfo.InvariantCulture) / 100.0;
                    var (cx, cy) = PointInside(o, rng);
                    double r = RadiusCovering(o, cx, cy, share);
                    var others = world.Colors.Where(c => c.Name != o.Color).ToList();
                    var c = others[rng.NextInt(others.Count)];
                    extra.Add(new ShapesPaint((x, y) => o.Contains(x, y) && (x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r, (c.R, c.G, c.B), o.Bounds));
                    break;
                }
            case "bite":
                {
                    double share = int.Parse(kind[5..], System.Globalization.CultureInfo.InvariantCulture) / 100.0;
                    var (cx, cy) = PointOnRim(o, rng);
                    double r = RadiusCovering(o, cx, cy, share);
                    extra.Add(new ShapesPaint((x, y) => (x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r, null, ShapesPaint.Disc(cx, cy, r)));
                    break;
                }
            case "tear":
                {
                    // a background strip 2 px wide across the shape, through a point near its centre
                    var (cx, cy) = (o.X + (rng.NextDouble() - 0.5) * o.Extent / 4, o.Y + (rng.NextDouble() - 0.5) * o.Extent / 4);
                    double a = rng.NextDouble() * Math.PI, nx = -Math.Sin(a), ny = Math.Cos(a);
                    extra.Add(new ShapesPaint((x, y) => Math.Abs((x - cx) * nx + (y - cy) * ny) <= 1.0, null, o.Bounds)); // only the shape needs tearing
                    break;
                }
            case "duplicate":
                {
                    if (FreePlace(world, objects, o.Extent * 0.75, rng) is not { } p) return null;
                    objects.Add(o with { X = p.X, Y = p.Y });
                    break;
                }
            case "fragment":
                {
                    double r = 3.2 + 1.2 * rng.NextDouble(); // 32–60 px², above the evaluator's artefact floor
                    if (FreePlace(world, objects, r, rng) is not { } p) return null;
                    var (fx, fy) = p;
                    var c = ShapesRenderer.ColorOf(world, scene.Objects[rng.NextInt(scene.Objects.Count)].Color);
                    extra.Add(new ShapesPaint((x, y) => (x - fx) * (x - fx) + (y - fy) * (y - fy) <= r * r, c, ShapesPaint.Disc(fx, fy, r)));
                    break;
                }
            case "size":
                {
                    int px = int.Parse(kind[5..^2], System.Globalization.CultureInfo.InvariantCulture);
                    objects[k] = o with { Extent = o.Extent + (rng.NextInt(2) == 0 ? -px : px) };
                    break;
                }
            default:
                throw new ArgumentException($"unknown corruption kind '{kind}'", nameof(kind));
        }
        return [.. ShapesRenderer.Paints(world, objects), .. extra];
    }

    private static (double X, double Y) PointInside(ShapesSceneObject o, SeededRandom rng)
    {
        while (true)
        {
            double x = o.X + (rng.NextDouble() - 0.5) * o.Extent, y = o.Y + (rng.NextDouble() - 0.5) * o.Extent;
            if (o.Contains(x, y)) return (x, y);
        }
    }

    /// <summary>A point of the shape's outline, in a random direction from its centre.</summary>
    private static (double X, double Y) PointOnRim(ShapesSceneObject o, SeededRandom rng)
    {
        double a = rng.NextDouble() * 2 * Math.PI, dx = Math.Cos(a), dy = Math.Sin(a);
        // the triangle's bounding-box centre lies inside it, so marching outwards finds its rim too
        double t = 0;
        while (o.Contains(o.X + (t + 0.05) * dx, o.Y + (t + 0.05) * dy)) t += 0.05;
        return (o.X + t * dx, o.Y + t * dy);
    }

    /// <summary>The radius of a disc at (cx, cy) that covers the given share of the shape's area (bisection on a 0.25-px grid).</summary>
    private static double RadiusCovering(ShapesSceneObject o, double cx, double cy, double share)
    {
        var inside = new List<(double X, double Y)>();
        for (double y = o.Y - o.Extent / 2 + 0.125; y < o.Y + o.Extent / 2; y += 0.25)
            for (double x = o.X - o.Extent / 2 + 0.125; x < o.X + o.Extent / 2; x += 0.25)
                if (o.Contains(x, y)) inside.Add((x, y));
        double lo = 0, hi = 2 * o.Extent;
        for (int i = 0; i < 40; i++)
        {
            double r = (lo + hi) / 2;
            double covered = inside.Count(p => (p.X - cx) * (p.X - cx) + (p.Y - cy) * (p.Y - cy) <= r * r) / (double)inside.Count;
            if (covered < share) lo = r; else hi = r;
        }
        return (lo + hi) / 2;
    }

    /// <summary>A centre for a disc of the given radius inside the image and clear of every shape, or null after 500 tries.</summary>
    private static (double X, double Y)? FreePlace(ShapesWorld world, IReadOnlyList<ShapesSceneObject> objects, double radius, SeededRandom rng)
    {
        double margin = radius + 1, n = world.ImageSize;
        for (int t = 0; t < 500; t++)
        {
            double x = margin + rng.NextDouble() * (n - 2 * margin), y = margin + rng.NextDouble() * (n - 2 * margin);
            if (objects.All(o => Math.Sqrt((o.X - x) * (o.X - x) + (o.Y - y) * (o.Y - y)) > radius + o.Extent * 0.75 + 2)) return (x, y);
        }
        return null;
    }
}
