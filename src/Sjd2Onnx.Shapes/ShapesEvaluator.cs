using Sjd2Onnx.Imaging;
using Sjd2Onnx.Sampling;

namespace Sjd2Onnx.Evaluation;

/// <summary>
/// Scores generated images of the shapes demo model against their prompts by segmentation:
/// it finds the shapes in the image, classifies their colour, kind, size and placement, and
/// compares them with the attributes the prompt states. Also draws fresh prompts from the world's
/// caption grammar. Thread-safe.
/// </summary>
public sealed class ShapesEvaluator
{
    /// <summary>The attribute keys a score can have, in reporting order.</summary>
    public static readonly IReadOnlyList<string> AttributeNames = ["count", "color", "shape", "size", "position", "relation"];

    private ShapesEvaluator(ShapesWorld world) => World = world;

    /// <summary>The world definition prompts are drawn from and images are scored against.</summary>
    public ShapesWorld World { get; }

    /// <summary>Loads the world definition (<c>shapes_world.json</c>) of the shapes demo model.</summary>
    /// <exception cref="Sjd2Exception">The file is missing or invalid, or names a shape kind the scorer cannot classify.</exception>
    public static ShapesEvaluator Load(string worldJsonPath)
    {
        var world = ShapesWorld.Load(worldJsonPath);
        var unknown = world.Shapes.FirstOrDefault(s => !ShapesSegmenter.KindFill.ContainsKey(s));
        if (unknown is not null)
            throw new Sjd2Exception($"'{worldJsonPath}' has a shape kind '{unknown}' the evaluator cannot classify (it knows {string.Join(", ", ShapesSegmenter.KindFill.Keys)}).");
        return new ShapesEvaluator(world);
    }

    /// <summary>
    /// Draws prompts from the world's caption grammar with a seeded random stream (the same seed
    /// gives the same prompts). With <paramref name="heldOut"/> false, no shape is a held-out
    /// colour+shape pair; with true, every prompt has at least one held-out pair.
    /// </summary>
    public IReadOnlyList<string> DrawPrompts(int count, ulong seed, bool heldOut)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var rng = new SeededRandom(seed ^ (heldOut ? 0x48454C444F5554UL : 0UL));
        var prompts = new List<string>(count);
        for (int i = 0; i < count; i++) prompts.Add(DrawPrompt(rng, heldOut));
        return prompts;
    }

    /// <summary>Parses a prompt into the attributes it states; null when it is not in the world's grammar.</summary>
    public ShapesPrompt? Parse(string prompt) => ShapesPrompt.Parse(World, prompt);

    /// <summary>The shapes found in an image, largest first.</summary>
    public IReadOnlyList<ShapesDetection> Detect(RgbImage image) => ShapesSegmenter.Detect(World, image);

    /// <summary>Scores an image against the attributes its prompt states.</summary>
    /// <exception cref="Sjd2Exception">The prompt is not in the shapes world's grammar.</exception>
    public ShapesScore Score(string prompt, RgbImage image)
    {
        var expected = Parse(prompt)
            ?? throw new Sjd2Exception($"the prompt \"{prompt}\" is not in the shapes world's grammar (e.g. \"a red circle on the left\", \"a big blue square above a small green triangle\").");
        return Score(expected, image);
    }

    /// <summary>Scores an image against already parsed prompt attributes.</summary>
    public ShapesScore Score(ShapesPrompt expected, RgbImage image) => Score(expected, ShapesSegmenter.Detect(World, image));

    /// <summary>Scores the shapes found in an image (see <see cref="Detect"/>) against parsed prompt attributes.</summary>
    public ShapesScore Score(ShapesPrompt expected, IReadOnlyList<ShapesDetection> found)
    {
        var objs = expected.Objects;
        var attributes = new Dictionary<string, bool> { ["count"] = found.Count == objs.Count };

        // assign detections to the prompt's objects: the assignment matching most attributes, ties to larger shapes
        ShapesDetection?[] match = new ShapesDetection?[objs.Count];
        if (objs.Count == 1)
        {
            match[0] = found.Count == 0 ? null : found.MaxBy(d => Matches(objs[0], d) * 1e6 + d.Area);
        }
        else
        {
            double best = double.MinValue;
            for (int i = 0; i < found.Count; i++)
                for (int j = -1; j < found.Count; j++)
                {
                    if (i == j) continue;
                    ShapesDetection a = found[i];
                    ShapesDetection? b = j < 0 ? null : found[j];
                    double score = (Matches(objs[0], a) + (b is null ? 0 : Matches(objs[1], b))) * 1e6 + a.Area + (b?.Area ?? 0);
                    if (score > best) { best = score; match[0] = a; match[1] = b; }
                    score = (Matches(objs[1], a) + (b is null ? 0 : Matches(objs[0], b))) * 1e6 + a.Area + (b?.Area ?? 0);
                    if (score > best) { best = score; match[1] = a; match[0] = b; }
                }
        }

        attributes["color"] = Enumerable.Range(0, objs.Count).All(k => match[k] is { } d && d.Color == objs[k].Color);
        attributes["shape"] = Enumerable.Range(0, objs.Count).All(k => match[k] is { } d && d.Kind == objs[k].Kind);
        if (objs.Any(o => o.Size is not null))
            attributes["size"] = Enumerable.Range(0, objs.Count).All(k => objs[k].Size is null || match[k] is { } d && d.Size == objs[k].Size);
        if (expected.Position is not null)
            attributes["position"] = match[0] is { } d0 && NearestPosition(d0.X, d0.Y) == expected.Position;
        if (expected.Relation is not null)
            attributes["relation"] = match[0] is { } a0 && match[1] is { } b0 && NearestRelation(a0.X - b0.X, a0.Y - b0.Y) == expected.Relation;
        return new ShapesScore(expected, attributes, found);
    }

    /// <summary>The position region whose nominal centre is nearest to a point (world pixels).</summary>
    public string NearestPosition(double x, double y) =>
        World.Positions.MinBy(p => (p.X - x) * (p.X - x) + (p.Y - y) * (p.Y - y)).Name;

    /// <summary>The relation whose nominal first-minus-second offset points most nearly along (dx, dy).</summary>
    public string NearestRelation(double dx, double dy) =>
        World.Relations.MaxBy(r =>
        {
            double rx = r.First.X - r.Second.X, ry = r.First.Y - r.Second.Y;
            return (rx * dx + ry * dy) / (Math.Sqrt(rx * rx + ry * ry) + 1e-9);
        }).Name;

    private static int Matches(ShapesObject o, ShapesDetection d) =>
        (o.Color == d.Color ? 1 : 0) + (o.Kind == d.Kind ? 1 : 0) + (o.Size is null || o.Size == d.Size ? 1 : 0);

    private string DrawPrompt(SeededRandom rng, bool heldOut)
    {
        var w = World;
        bool two = rng.NextDouble() < w.TwoShapeProbability;
        var objs = new List<(string Color, string Kind, string Size)>();
        for (int i = 0; i < (two ? 2 : 1); i++) objs.Add(DrawObject(rng, allowHeldOut: heldOut));
        if (heldOut)
        {
            int i = rng.NextInt(objs.Count);
            var (c, k) = w.HeldOut[rng.NextInt(w.HeldOut.Count)];
            objs[i] = (c, k, objs[i].Size);
        }
        if (two)
        {
            // the two shapes must be distinguishable: redraw the one that is not held out
            int redraw = heldOut && w.IsHeldOut(objs[1].Color, objs[1].Kind) ? 0 : 1;
            while (objs[0].Color == objs[1].Color && objs[0].Kind == objs[1].Kind)
            {
                var o = DrawObject(rng, allowHeldOut: heldOut);
                objs[redraw] = (o.Color, o.Kind, objs[redraw].Size);
            }
        }
        string Obj((string Color, string Kind, string Size) o)
        {
            bool omit = rng.NextDouble() < w.SizeOmitProbability;
            var words = w.SizeWords[o.Size];
            return (omit ? "" : words[rng.NextInt(words.Count)] + " ") + o.Color + " " + o.Kind;
        }
        if (!two)
        {
            var pos = w.Positions[rng.NextInt(w.Positions.Count)];
            string t = w.SingleTemplates[rng.NextInt(w.SingleTemplates.Count)];
            return t.Replace("{obj}", Obj(objs[0])).Replace("{pos}", pos.Phrases[rng.NextInt(pos.Phrases.Count)]);
        }
        var rel = w.Relations[rng.NextInt(w.Relations.Count)];
        string pt = w.PairTemplates[rng.NextInt(w.PairTemplates.Count)];
        string o1 = Obj(objs[0]), o2 = Obj(objs[1]);
        return pt.Replace("{obj1}", o1).Replace("{obj2}", o2).Replace("{rel}", rel.Phrases[rng.NextInt(rel.Phrases.Count)]);
    }

    private (string Color, string Kind, string Size) DrawObject(SeededRandom rng, bool allowHeldOut)
    {
        var w = World;
        while (true)
        {
            string color = w.Colors[rng.NextInt(w.Colors.Count)].Name;
            string kind = w.Shapes[rng.NextInt(w.Shapes.Count)];
            if (!allowHeldOut && w.IsHeldOut(color, kind)) continue;
            return (color, kind, w.Sizes[rng.NextInt(w.Sizes.Count)].Name);
        }
    }
}
