using System.Text.Json;
using Sjd2Onnx.Imaging;
using StbImageSharp;

namespace Sjd2Onnx.Evaluation;

/// <summary>
/// Rendered ground truth of the shapes world (the folder written by the Python side's
/// <c>write_test_data()</c>: PNGs and <c>labels.json</c>), and the check of the evaluator on it.
/// </summary>
public sealed class ShapesGroundTruth
{
    /// <summary>The labels file inside the data folder.</summary>
    public const string LabelsFile = "labels.json";

    private ShapesGroundTruth(IReadOnlyList<ShapesGroundTruthCase> cases) => Cases = cases;

    /// <summary>The images with their captions and true scenes, in file order.</summary>
    public IReadOnlyList<ShapesGroundTruthCase> Cases { get; }

    /// <summary>Reads <c>labels.json</c> and every PNG it names.</summary>
    /// <exception cref="Sjd2Exception">The folder, the labels or an image is missing or unreadable.</exception>
    public static ShapesGroundTruth Load(string dir)
    {
        string labels = Path.Combine(dir, LabelsFile);
        if (!File.Exists(labels))
            throw new Sjd2Exception($"'{dir}' has no {LabelsFile}; ground-truth data is written by tools/pysjd2/shapes.py write_test_data().");
        var cases = new List<ShapesGroundTruthCase>();
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(labels));
            foreach (var e in doc.RootElement.EnumerateArray())
            {
                string file = e.GetProperty("file").GetString()!;
                string prompt = e.GetProperty("prompt").GetString()!;
                var objects = e.GetProperty("shapes").EnumerateArray().Select(s => new ShapesObject(
                    s.GetProperty("size").GetString(), s.GetProperty("color").GetString()!, s.GetProperty("kind").GetString()!)).ToList();
                string? position = e.GetProperty("position").GetString();
                string? relation = e.GetProperty("relation").GetString();
                cases.Add(new ShapesGroundTruthCase(file, prompt, new ShapesPrompt(objects, position, relation), ReadPng(Path.Combine(dir, file))));
            }
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or IOException)
        {
            throw new Sjd2Exception($"cannot read the ground truth in '{dir}': {e.Message}", e);
        }
        if (cases.Count == 0) throw new Sjd2Exception($"'{labels}' lists no images.");
        return new ShapesGroundTruth(cases);
    }

    /// <summary>Reads an 8-bit PNG as RGB (grey and alpha are converted).</summary>
    /// <exception cref="Sjd2Exception">The file is missing or not a readable image.</exception>
    public static RgbImage ReadPng(string path)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new Sjd2Exception($"cannot read '{path}': {e.Message}", e);
        }
        try
        {
            var img = ImageResult.FromMemory(bytes, ColorComponents.RedGreenBlue);
            return new RgbImage(img.Width, img.Height, img.Data);
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or IndexOutOfRangeException)
        {
            throw new Sjd2Exception($"'{path}' is not a readable PNG: {e.Message}", e);
        }
    }

    /// <summary>
    /// Scores every image with its own caption (agreement), with its full labels, and with wrong
    /// captions made from its true scene: another colour, kind, size, position or relation, or the
    /// wrong number of shapes (rejection).
    /// </summary>
    public ShapesValidationReport Validate(ShapesEvaluator evaluator)
    {
        var world = evaluator.World;
        int agreed = 0, agreedFull = 0;
        var disagreements = new List<(string, string, string)>();
        var mismatches = new Dictionary<string, (int Rejected, int Total)>();
        var accepted = new List<(string, string, string)>();
        for (int n = 0; n < Cases.Count; n++)
        {
            var c = Cases[n];
            var found = evaluator.Detect(c.Image);
            var own = evaluator.Score(evaluator.Parse(c.Prompt)
                ?? throw new Sjd2Exception($"{c.File}: the caption \"{c.Prompt}\" is not in the world's grammar."), found);
            if (own.Overall) agreed++;
            else disagreements.Add((c.File, c.Prompt, own.Failures + " | found: " + Describe(own.Detected)));
            if (evaluator.Score(c.Truth, found).Overall) agreedFull++;
            foreach (var (kind, wrong) in Corruptions(world, c.Truth, n))
            {
                bool ok = evaluator.Score(wrong, found).Overall;
                var (r, t) = mismatches.GetValueOrDefault(kind);
                mismatches[kind] = (r + (ok ? 0 : 1), t + 1);
                if (ok) accepted.Add((c.File, kind, wrong.ToCaption(world)));
            }
        }
        return new ShapesValidationReport(Cases.Count, agreed, agreedFull, disagreements, mismatches, accepted);
    }

    /// <summary>A short text of detections, e.g. "big red circle at (16.2, 31.8)".</summary>
    public static string Describe(IReadOnlyList<ShapesDetection> detected) => detected.Count == 0 ? "nothing" :
        string.Join("; ", detected.Select(d =>
            FormattableString.Invariant($"{d.Size} {d.Color ?? "?"} {d.Kind ?? "?"} at ({d.X:F1}, {d.Y:F1}), iou {d.KindIou:F2}, fill {d.Fill:F2}, rgb {d.MeanRgb.R},{d.MeanRgb.G},{d.MeanRgb.B}")));

    /// <summary>Wrong descriptions of a true scene, one per corruption kind that applies; <paramref name="variant"/> varies the choices.</summary>
    internal static IEnumerable<(string Kind, ShapesPrompt Wrong)> Corruptions(ShapesWorld world, ShapesPrompt truth, int variant)
    {
        var objs = truth.Objects;
        int k = variant % objs.Count; // which shape is changed
        static T Other<T>(IReadOnlyList<T> xs, T current, int variant) where T : notnull
        {
            var others = xs.Where(x => !x.Equals(current)).ToList();
            return others[variant % others.Count];
        }
        ShapesPrompt With(ShapesObject o) => truth with { Objects = objs.Select((x, i) => i == k ? o : x).ToList() };

        yield return ("color", With(objs[k] with { Color = Other(world.Colors.Select(c => c.Name).ToList(), objs[k].Color, variant) }));
        yield return ("shape", With(objs[k] with { Kind = Other(world.Shapes, objs[k].Kind, variant) }));
        if (objs[k].Size is not null)
            yield return ("size", With(objs[k] with { Size = Other(world.Sizes.Select(s => s.Name).ToList(), objs[k].Size!, variant) }));
        if (truth.Position is not null)
        {
            yield return ("position", truth with { Position = Other(world.Positions.Select(p => p.Name).ToList(), truth.Position, variant) });
            // a second shape that is not there
            var extra = new ShapesObject(objs[0].Size, Other(world.Colors.Select(c => c.Name).ToList(), objs[0].Color, variant), objs[0].Kind);
            yield return ("count", new ShapesPrompt([objs[0], extra], null, world.Relations[variant % world.Relations.Count].Name));
        }
        if (truth.Relation is not null)
        {
            yield return ("relation", truth with { Relation = Other(world.Relations.Select(r => r.Name).ToList(), truth.Relation, variant) });
            // only one of the two shapes, at the position its relation puts it
            var rel = world.Relations.First(r => r.Name == truth.Relation);
            var near = world.Positions.MinBy(p => Math.Pow(p.X - rel.First.X, 2) + Math.Pow(p.Y - rel.First.Y, 2)).Name;
            yield return ("count", new ShapesPrompt([objs[0]], near, null));
        }
    }
}
