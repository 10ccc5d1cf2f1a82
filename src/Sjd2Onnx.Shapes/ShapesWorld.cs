using System.Text.Json;

namespace Sjd2Onnx.Evaluation;

/// <summary>
/// The procedural "shapes world" of the default demo model, as written by the Python side's
/// <c>world_definition()</c> to <c>shapes_world.json</c>: colours, shape kinds, sizes, position
/// regions, relations, caption templates and word lists, and the held-out colour+shape pairs.
/// </summary>
public sealed class ShapesWorld
{
    /// <summary>The file name of the world definition inside a model folder.</summary>
    public const string FileName = "shapes_world.json";

    private ShapesWorld() { }

    /// <summary>World name (<c>shapes</c>).</summary>
    public string Name { get; private init; } = "";

    /// <summary>Side of the square images in pixels.</summary>
    public int ImageSize { get; private init; }

    /// <summary>Colour names in the world's order, with their RGB values.</summary>
    public IReadOnlyList<(string Name, byte R, byte G, byte B)> Colors { get; private init; } = [];

    /// <summary>Shape kinds in the world's order (circle, square, triangle).</summary>
    public IReadOnlyList<string> Shapes { get; private init; } = [];

    /// <summary>Size names with their extent in pixels (circle diameter, square side, triangle base and height).</summary>
    public IReadOnlyList<(string Name, int Pixels)> Sizes { get; private init; } = [];

    /// <summary>Words that name each size in captions, e.g. big → [big, large].</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> SizeWords { get; private init; } = new Dictionary<string, IReadOnlyList<string>>();

    /// <summary>Probability that a caption leaves an object's size out.</summary>
    public double SizeOmitProbability { get; private init; }

    /// <summary>Background grey levels (RGB).</summary>
    public IReadOnlyList<(byte R, byte G, byte B)> Backgrounds { get; private init; } = [];

    /// <summary>Single-shape position regions in the world's order: name, nominal centre (x right, y down), caption phrases.</summary>
    public IReadOnlyList<(string Name, double X, double Y, IReadOnlyList<string> Phrases)> Positions { get; private init; } = [];

    /// <summary>
    /// Two-shape relations in the world's order: name, caption phrases, and the nominal centres of the
    /// first-mentioned shape and of the second one.
    /// </summary>
    public IReadOnlyList<(string Name, IReadOnlyList<string> Phrases, (double X, double Y) First, (double X, double Y) Second)> Relations { get; private init; } = [];

    /// <summary>Probability that a scene has two shapes.</summary>
    public double TwoShapeProbability { get; private init; }

    /// <summary>Caption templates for one shape (<c>{obj}</c>, <c>{pos}</c>).</summary>
    public IReadOnlyList<string> SingleTemplates { get; private init; } = [];

    /// <summary>Caption templates for two shapes (<c>{obj1}</c>, <c>{rel}</c>, <c>{obj2}</c>).</summary>
    public IReadOnlyList<string> PairTemplates { get; private init; } = [];

    /// <summary>Colour+shape pairs never seen in training (compositional generalisation test).</summary>
    public IReadOnlyList<(string Color, string Kind)> HeldOut { get; private init; } = [];

    /// <summary>The text vocabulary (special tokens first), as in the model's vocab.txt.</summary>
    public IReadOnlyList<string> Vocab { get; private init; } = [];

    /// <summary>Whether a colour+shape pair is held out of training.</summary>
    public bool IsHeldOut(string color, string kind) => HeldOut.Any(h => h.Color == color && h.Kind == kind);

    /// <summary>Reads a <c>shapes_world.json</c> file.</summary>
    /// <exception cref="Sjd2Exception">The file is missing, unreadable or not a shapes world definition.</exception>
    public static ShapesWorld Load(string path)
    {
        if (!File.Exists(path))
            throw new Sjd2Exception($"the shapes world file '{path}' does not exist.");
        string text;
        try { text = File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new Sjd2Exception($"cannot read '{path}': {e.Message}", e);
        }
        try { return Parse(text); }
        catch (Sjd2Exception e) { throw new Sjd2Exception($"'{path}': {e.Message}", e); }
    }

    /// <summary>Parses the JSON text of a world definition.</summary>
    /// <exception cref="Sjd2Exception">The text is not a valid shapes world definition.</exception>
    public static ShapesWorld Parse(string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            var r = doc.RootElement;
            var world = new ShapesWorld
            {
                Name = r.GetProperty("name").GetString() ?? "",
                ImageSize = r.GetProperty("image_size").GetInt32(),
                Colors = r.GetProperty("colors").EnumerateObject()
                    .Select(p => { var c = Bytes(p.Value); return (p.Name, c[0], c[1], c[2]); }).ToList(),
                Shapes = Strings(r.GetProperty("shapes")),
                Sizes = r.GetProperty("sizes_px").EnumerateObject().Select(p => (p.Name, p.Value.GetInt32())).ToList(),
                SizeWords = r.GetProperty("size_words").EnumerateObject().ToDictionary(p => p.Name, p => Strings(p.Value)),
                SizeOmitProbability = r.GetProperty("size_omit_probability").GetDouble(),
                Backgrounds = r.GetProperty("backgrounds").EnumerateArray()
                    .Select(e => { var c = Bytes(e); return (c[0], c[1], c[2]); }).ToList(),
                Positions = r.GetProperty("positions").EnumerateObject().Select(p =>
                {
                    var c = p.Value.GetProperty("center");
                    return (p.Name, c[0].GetDouble(), c[1].GetDouble(), Strings(p.Value.GetProperty("phrases")));
                }).ToList(),
                Relations = r.GetProperty("relations").EnumerateObject().Select(p =>
                {
                    var a = p.Value.GetProperty("first_center");
                    var b = p.Value.GetProperty("second_center");
                    return (p.Name, Strings(p.Value.GetProperty("phrases")),
                        (a[0].GetDouble(), a[1].GetDouble()), (b[0].GetDouble(), b[1].GetDouble()));
                }).ToList(),
                TwoShapeProbability = r.GetProperty("two_shape_probability").GetDouble(),
                SingleTemplates = Strings(r.GetProperty("templates").GetProperty("single")),
                PairTemplates = Strings(r.GetProperty("templates").GetProperty("pair")),
                HeldOut = r.GetProperty("held_out").EnumerateArray()
                    .Select(e => (e.GetProperty("color").GetString()!, e.GetProperty("kind").GetString()!)).ToList(),
                Vocab = r.TryGetProperty("vocab", out var v) ? Strings(v) : [],
            };
            world.Validate();
            return world;
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or IndexOutOfRangeException or FormatException or OverflowException)
        {
            throw new Sjd2Exception($"not a shapes world definition ({e.Message}); regenerate it with tools/pysjd2/shapes.py write_world().", e);
        }
    }

    private void Validate()
    {
        string? problem =
            ImageSize < 8 ? "image_size below 8" :
            Colors.Count < 2 ? "fewer than two colours" :
            Shapes.Count == 0 ? "no shapes" :
            Sizes.Count == 0 || Sizes.Any(s => s.Pixels <= 0) ? "no sizes, or a size that is not positive" :
            Positions.Count == 0 || Relations.Count == 0 ? "no positions or no relations" :
            SingleTemplates.Count == 0 || PairTemplates.Count == 0 ? "no caption templates" :
            Sizes.Any(s => !SizeWords.ContainsKey(s.Name)) ? "a size without size words" :
            HeldOut.Any(h => Colors.All(c => c.Name != h.Color) || !Shapes.Contains(h.Kind)) ? "a held-out pair names an unknown colour or shape" :
            Colors.Count * Shapes.Count <= HeldOut.Count ? "every colour+shape pair is held out" :
            null;
        if (problem is not null) throw new Sjd2Exception($"invalid shapes world definition: {problem}.");
    }

    private static IReadOnlyList<string> Strings(JsonElement e) => e.EnumerateArray().Select(x => x.GetString()!).ToList();

    private static byte[] Bytes(JsonElement e)
    {
        var b = e.EnumerateArray().Select(x => checked((byte)x.GetInt32())).ToArray();
        if (b.Length != 3) throw new FormatException("a colour is not [r, g, b]");
        return b;
    }
}
