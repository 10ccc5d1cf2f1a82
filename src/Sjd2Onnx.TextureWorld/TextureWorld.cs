using System.Text.Json;

namespace Sjd2Onnx.Evaluation;

/// <summary>
/// The entropy world of the texture demo model, as the Python side's <c>world_definition()</c>
/// writes it to <c>texture_world.json</c>: colours, shape kinds, sizes, regions, relations,
/// textures, backgrounds, caption templates and word lists, and the held-out colour+shape pairs.
/// </summary>
public sealed class TextureWorld
{
    /// <summary>The file name of the world definition inside a model folder.</summary>
    public const string FileName = "texture_world.json";

    private TextureWorld() { }

    /// <summary>World name (<c>texture</c>).</summary>
    public string Name { get; private init; } = "";

    /// <summary>Side of the square images in pixels.</summary>
    public int ImageSize { get; private init; }

    /// <summary>Colour names in the world's order, with their palette RGB values.</summary>
    public IReadOnlyList<(string Name, byte R, byte G, byte B)> Colors { get; private init; } = [];

    /// <summary>Shape kinds in the world's order (circle, square, triangle).</summary>
    public IReadOnlyList<string> Shapes { get; private init; } = [];

    /// <summary>Extent below or at this many pixels is small, above it big.</summary>
    public double SizeThreshold { get; private init; }

    /// <summary>Words that name each size in captions, e.g. big → [big, large].</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> SizeWords { get; private init; } = new Dictionary<string, IReadOnlyList<string>>();

    /// <summary>Regions of the 3x3 grid of thirds in the world's order: name, column and row (0..2), caption phrases.</summary>
    public IReadOnlyList<(string Name, int Column, int Row, IReadOnlyList<string> Phrases)> Regions { get; private init; } = [];

    /// <summary>
    /// Relations in the world's order: name, caption phrases, axis (0 = x, 1 = y) and the sign of
    /// the second object's centre minus the first's along it.
    /// </summary>
    public IReadOnlyList<(string Name, IReadOnlyList<string> Phrases, int Axis, int Sign)> Relations { get; private init; } = [];

    /// <summary>Background pattern names.</summary>
    public IReadOnlyList<string> Backgrounds { get; private init; } = [];

    /// <summary>Object surface texture names (the first, <c>plain</c>, is never named in captions).</summary>
    public IReadOnlyList<string> Textures { get; private init; } = [];

    /// <summary>Caption templates for one object (<c>{obj}</c>, <c>{pos}</c>).</summary>
    public IReadOnlyList<string> SingleTemplates { get; private init; } = [];

    /// <summary>Caption templates for two objects (<c>{obj1}</c>, <c>{rel}</c>, <c>{obj2}</c>).</summary>
    public IReadOnlyList<string> PairTemplates { get; private init; } = [];

    /// <summary>Caption templates for three objects (a pair in a relation and a third at <c>{pos}</c>).</summary>
    public IReadOnlyList<string> TripleTemplates { get; private init; } = [];

    /// <summary>The suffix that names the background (<c>{text}</c>, <c>{bg}</c>).</summary>
    public string BackgroundSuffix { get; private init; } = "";

    /// <summary>Colour+shape pairs never seen in training.</summary>
    public IReadOnlyList<(string Color, string Kind)> HeldOut { get; private init; } = [];

    /// <summary>The text vocabulary (special tokens first), as in the model's vocab.txt.</summary>
    public IReadOnlyList<string> Vocab { get; private init; } = [];

    // Caption statistics for drawing prompts; files written before they were listed use the Python defaults.
    internal double SizeOmitProbability { get; private init; } = 0.15;

    internal IReadOnlyList<double> ObjectCountProbabilities { get; private init; } = [0.35, 0.40, 0.25];

    internal double TextureWordProbability { get; private init; } = 0.6;

    internal double BackgroundWordProbability { get; private init; } = 0.4;

    /// <summary>Whether a colour+shape pair is held out of training.</summary>
    public bool IsHeldOut(string color, string kind) => HeldOut.Any(h => h.Color == color && h.Kind == kind);

    /// <summary>Reads a <c>texture_world.json</c> file.</summary>
    /// <exception cref="Sjd2Exception">The file is missing, unreadable or not a texture world definition.</exception>
    public static TextureWorld Load(string path)
    {
        if (!File.Exists(path))
            throw new Sjd2Exception($"the texture world file '{path}' does not exist.");
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
    /// <exception cref="Sjd2Exception">The text is not a valid texture world definition.</exception>
    public static TextureWorld Parse(string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            var r = doc.RootElement;
            var templates = r.GetProperty("templates");
            var world = new TextureWorld
            {
                Name = r.GetProperty("name").GetString() ?? "",
                ImageSize = r.GetProperty("image_size").GetInt32(),
                Colors = r.GetProperty("colors").EnumerateObject()
                    .Select(p => { var c = Bytes(p.Value); return (p.Name, c[0], c[1], c[2]); }).ToList(),
                Shapes = Strings(r.GetProperty("shapes")),
                SizeThreshold = r.GetProperty("size_threshold_px").GetDouble(),
                SizeWords = r.GetProperty("size_words").EnumerateObject().ToDictionary(p => p.Name, p => Strings(p.Value)),
                Regions = r.GetProperty("regions").EnumerateObject().Select(p =>
                {
                    var cr = p.Value.GetProperty("column_row");
                    return (p.Name, cr[0].GetInt32(), cr[1].GetInt32(), Strings(p.Value.GetProperty("phrases")));
                }).ToList(),
                Relations = r.GetProperty("relations").EnumerateObject().Select(p =>
                {
                    string axis = p.Value.GetProperty("axis").GetString() ?? "";
                    int a = axis == "x" ? 0 : axis == "y" ? 1 : throw new FormatException($"relation '{p.Name}' has axis '{axis}', not x or y");
                    return (p.Name, Strings(p.Value.GetProperty("phrases")), a, p.Value.GetProperty("sign").GetInt32());
                }).ToList(),
                Backgrounds = Strings(r.GetProperty("backgrounds")),
                Textures = Strings(r.GetProperty("textures")),
                SingleTemplates = Strings(templates.GetProperty("single")),
                PairTemplates = Strings(templates.GetProperty("pair")),
                TripleTemplates = Strings(templates.GetProperty("triple")),
                BackgroundSuffix = templates.GetProperty("background_suffix").GetString() ?? "",
                HeldOut = r.GetProperty("held_out").EnumerateArray()
                    .Select(e => (e.GetProperty("color").GetString()!, e.GetProperty("kind").GetString()!)).ToList(),
                Vocab = r.TryGetProperty("vocab", out var v) ? Strings(v) : [],
                SizeOmitProbability = r.TryGetProperty("size_omit_probability", out var so) ? so.GetDouble() : 0.15,
                ObjectCountProbabilities = r.TryGetProperty("object_count_probabilities", out var oc)
                    ? oc.EnumerateArray().Select(x => x.GetDouble()).ToList() : [0.35, 0.40, 0.25],
                TextureWordProbability = r.TryGetProperty("texture_word_probability", out var tw) ? tw.GetDouble() : 0.6,
                BackgroundWordProbability = r.TryGetProperty("background_word_probability", out var bw) ? bw.GetDouble() : 0.4,
            };
            world.Validate();
            return world;
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or IndexOutOfRangeException or FormatException or OverflowException)
        {
            throw new Sjd2Exception($"not a texture world definition ({e.Message}); regenerate it with tools/pysjd2/texture_world.py write_world().", e);
        }
    }

    private void Validate()
    {
        string? problem =
            ImageSize < 8 ? "image_size below 8" :
            Colors.Count < 2 ? "fewer than two colours" :
            Shapes.Count == 0 || Shapes.Any(s => s is not ("circle" or "square" or "triangle")) ? "no shapes, or a shape other than circle, square and triangle" :
            SizeThreshold <= 0 ? "a size threshold that is not positive" :
            !SizeWords.ContainsKey("big") || !SizeWords.ContainsKey("small") ? "no size words for big and small" :
            Regions.Count == 0 || Relations.Count == 0 ? "no regions or no relations" :
            Regions.Any(g => g.Column is < 0 or > 2 || g.Row is < 0 or > 2) ? "a region outside the 3x3 grid" :
            Relations.Any(x => x.Sign is not (1 or -1)) ? "a relation sign other than 1 and -1" :
            SingleTemplates.Count == 0 || PairTemplates.Count == 0 || TripleTemplates.Count == 0 ? "no caption templates" :
            Textures.Count == 0 || Backgrounds.Count == 0 ? "no textures or no backgrounds" :
            HeldOut.Any(h => Colors.All(c => c.Name != h.Color) || !Shapes.Contains(h.Kind)) ? "a held-out pair names an unknown colour or shape" :
            ObjectCountProbabilities.Count != 3 ? "object_count_probabilities is not three numbers" :
            null;
        if (problem is not null) throw new Sjd2Exception($"invalid texture world definition: {problem}.");
    }

    private static IReadOnlyList<string> Strings(JsonElement e) => e.EnumerateArray().Select(x => x.GetString()!).ToList();

    private static byte[] Bytes(JsonElement e)
    {
        var b = e.EnumerateArray().Select(x => checked((byte)x.GetInt32())).ToArray();
        if (b.Length != 3) throw new FormatException("a colour is not [r, g, b]");
        return b;
    }
}
