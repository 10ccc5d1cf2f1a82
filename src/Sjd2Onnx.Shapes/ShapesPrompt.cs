using System.Text.RegularExpressions;

namespace Sjd2Onnx.Evaluation;

/// <summary>
/// The attributes a shapes-world prompt states: one shape at a position, or two shapes in a
/// relation (the first-mentioned shape stands in the relation to the second).
/// </summary>
/// <param name="Objects">One or two shapes, in the order the prompt names them.</param>
/// <param name="Position">Position region of a single shape; null for two shapes.</param>
/// <param name="Relation">Relation of the first shape to the second; null for one shape.</param>
public sealed record ShapesPrompt(IReadOnlyList<ShapesObject> Objects, string? Position, string? Relation)
{
    private static readonly Regex Split = new(@"\w+|[^\w\s]", RegexOptions.CultureInvariant);

    /// <summary>
    /// Lowercases and splits text into runs of word characters and single punctuation characters,
    /// as the Python side's <c>basic_split</c>.
    /// </summary>
    public static IReadOnlyList<string> Words(string text) =>
        Split.Matches(text.ToLowerInvariant()).Select(m => m.Value).ToList();

    /// <summary>
    /// Parses a prompt with the world's word lists; the C# twin of the Python side's
    /// <c>parse_caption</c>. Returns null when the prompt names no shape, more than two, or no
    /// position (one shape) or relation (two shapes) the world knows.
    /// </summary>
    public static ShapesPrompt? Parse(ShapesWorld world, string text)
    {
        string s = string.Join(' ', Words(text));
        var sizeOf = new Dictionary<string, string>();
        foreach (var (size, words) in world.SizeWords)
            foreach (var w in words) sizeOf[w] = size;
        string alt(IEnumerable<string> xs) => string.Join('|', xs.Select(Regex.Escape));
        var objRe = new Regex($"(?:({alt(sizeOf.Keys)}) )?({alt(world.Colors.Select(c => c.Name))}) ({alt(world.Shapes)})",
            RegexOptions.CultureInvariant);
        var objects = objRe.Matches(s).Select(m => new ShapesObject(
            m.Groups[1].Success ? sizeOf[m.Groups[1].Value] : null, m.Groups[2].Value, m.Groups[3].Value)).ToList();
        if (objects.Count == 2)
        {
            foreach (var rel in world.Relations)
                foreach (var ph in rel.Phrases.OrderByDescending(p => p.Length))
                    if (Regex.IsMatch(s, $"(?:^| ){Regex.Escape(ph)}(?: |$)", RegexOptions.CultureInvariant))
                        return new ShapesPrompt(objects, null, rel.Name);
            return null;
        }
        if (objects.Count == 1)
        {
            foreach (var pos in world.Positions)
                foreach (var ph in pos.Phrases)
                    if (s.Contains(ph, StringComparison.Ordinal))
                        return new ShapesPrompt(objects, pos.Name, null);
        }
        return null;
    }

    /// <summary>
    /// Writes the prompt as a caption with the world's first template and first phrases (sizes
    /// with their first word, omitted ones left out).
    /// </summary>
    public string ToCaption(ShapesWorld world)
    {
        string obj(ShapesObject o) => (o.Size is null ? "" : world.SizeWords[o.Size][0] + " ") + o.Color + " " + o.Kind;
        if (Relation is null)
        {
            var pos = world.Positions.First(p => p.Name == Position);
            return world.SingleTemplates[0].Replace("{obj}", obj(Objects[0])).Replace("{pos}", pos.Phrases[0]);
        }
        var rel = world.Relations.First(r => r.Name == Relation);
        return world.PairTemplates[0].Replace("{obj1}", obj(Objects[0])).Replace("{obj2}", obj(Objects[1]))
            .Replace("{rel}", rel.Phrases[0]);
    }
}
