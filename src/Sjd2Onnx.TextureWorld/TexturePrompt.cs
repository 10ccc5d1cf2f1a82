using System.Text.RegularExpressions;

namespace Sjd2Onnx.Evaluation;

/// <summary>
/// The attributes an entropy-world prompt states: one object in a region, two objects in a
/// relation (the first-mentioned stands in the relation to the second), or such a pair and a
/// third object in a region; optionally the background pattern.
/// </summary>
/// <param name="Objects">One to three objects, in the order the prompt names them.</param>
/// <param name="Relation">Relation of the first object to the second; null for one object.</param>
/// <param name="Position">Region of a single object; null otherwise.</param>
/// <param name="ThirdPosition">Region of the third object; null for fewer than three.</param>
/// <param name="Background">Background pattern the prompt names, or null.</param>
public sealed record TexturePrompt(IReadOnlyList<TextureObject> Objects, string? Relation, string? Position, string? ThirdPosition,
    string? Background)
{
    private static readonly Regex Split = new(@"\w+|[^\w\s]", RegexOptions.CultureInvariant);

    /// <summary>
    /// Parses a prompt with the world's word lists; the C# twin of the Python side's
    /// <c>texture_world.parse_caption</c>. Returns null when the prompt is outside the grammar
    /// (no object or more than three, or no region or relation where one is needed).
    /// </summary>
    public static TexturePrompt? Parse(TextureWorld world, string text)
    {
        ArgumentNullException.ThrowIfNull(world);
        ArgumentNullException.ThrowIfNull(text);
        string s = string.Join(' ', Split.Matches(text.ToLowerInvariant()).Select(m => m.Value));
        var sizeOf = new Dictionary<string, string>();
        foreach (var (size, words) in world.SizeWords)
            foreach (var w in words) sizeOf[w] = size;
        var objRe = new Regex($"(?:({Alt(sizeOf.Keys)}) )?({Alt(world.Colors.Select(c => c.Name))}) (?:({Alt(world.Textures)}) )?({Alt(world.Shapes)})",
            RegexOptions.CultureInvariant);
        var matches = objRe.Matches(s);
        var objects = matches.Select(m => new TextureObject(m.Groups[1].Success ? sizeOf[m.Groups[1].Value] : null, m.Groups[2].Value,
            m.Groups[3].Success ? m.Groups[3].Value : null, m.Groups[4].Value)).ToList();
        var bg = Regex.Match(s, $", ({Alt(world.Backgrounds)}) background$", RegexOptions.CultureInvariant);
        string? background = bg.Success ? bg.Groups[1].Value : null;

        if (objects.Count == 1)
        {
            string? position = RegionIn(world, s);
            return position is null ? null : new TexturePrompt(objects, null, position, null, background);
        }
        if (objects.Count is not (2 or 3)) return null;
        string relPart = s;
        string? third = null;
        if (objects.Count == 3)
        {
            var m3 = matches[2];
            relPart = s[..m3.Index];
            third = RegionIn(world, s[(m3.Index + m3.Length)..]);
            if (third is null) return null;
        }
        foreach (var rel in world.Relations)
            foreach (var ph in rel.Phrases.OrderByDescending(p => p.Length))
                if (ContainsPhrase(relPart, ph))
                    return new TexturePrompt(objects, rel.Name, null, third, background);
        return null;
    }

    // The region whose phrase occurs as whole words, the longest phrase winning (the first on a tie).
    private static string? RegionIn(TextureWorld world, string part)
    {
        string? best = null;
        int bestLength = 0;
        foreach (var region in world.Regions)
            foreach (var ph in region.Phrases)
                if (ContainsPhrase(part, ph) && (best is null || ph.Length > bestLength))
                    (best, bestLength) = (region.Name, ph.Length);
        return best;
    }

    private static bool ContainsPhrase(string s, string phrase) =>
        Regex.IsMatch(s, $"(?:^| ){Regex.Escape(phrase)}(?: |$)", RegexOptions.CultureInvariant);

    private static string Alt(IEnumerable<string> words) => string.Join('|', words.Select(Regex.Escape));
}
