using Sjd2Onnx.Sampling;

namespace Sjd2Onnx.Evaluation;

/// <summary>
/// Draws captions from the entropy world's grammar: one to three objects with distinct colours,
/// a region or a relation, optional size and texture words and an optional background suffix,
/// in the proportions of <c>texture_world.caption</c>. The random stream is the engine's, so the
/// prompts differ from Python's; their grammar and statistics do not.
/// </summary>
internal static class TextureCaptions
{
    public static string Draw(TextureWorld world, SeededRandom rng, bool heldOut)
    {
        int n = DrawCount(world, rng);
        // the held-out pair is drawn first, so that the other objects avoid its colour
        var objects = new List<(string Color, string Kind)>();
        if (heldOut) objects.Add(Pick(world.HeldOut, rng));
        while (objects.Count < n)
        {
            string color = world.Colors[rng.NextInt(world.Colors.Count)].Name;
            string kind = world.Shapes[rng.NextInt(world.Shapes.Count)];
            if (objects.All(o => o.Color != color) && !world.IsHeldOut(color, kind)) objects.Add((color, kind));
        }
        if (heldOut)
        {
            int at = rng.NextInt(n);
            (objects[0], objects[at]) = (objects[at], objects[0]);
        }
        string text;
        if (n == 1)
        {
            text = Pick(world.SingleTemplates, rng).Replace("{obj}", Phrase(world, objects[0], rng))
                .Replace("{pos}", Pick(Pick(world.Regions, rng).Phrases, rng));
        }
        else
        {
            string rel = Pick(Pick(world.Relations, rng).Phrases, rng);
            var template = n == 2 ? Pick(world.PairTemplates, rng) : Pick(world.TripleTemplates, rng);
            text = template.Replace("{obj1}", Phrase(world, objects[0], rng)).Replace("{obj2}", Phrase(world, objects[1], rng))
                .Replace("{rel}", rel);
            if (n == 3)
                text = text.Replace("{obj3}", Phrase(world, objects[2], rng)).Replace("{pos}", Pick(Pick(world.Regions, rng).Phrases, rng));
        }
        if (rng.NextDouble() < world.BackgroundWordProbability)
            text = world.BackgroundSuffix.Replace("{text}", text).Replace("{bg}", Pick(world.Backgrounds, rng));
        return text;
    }

    private static int DrawCount(TextureWorld world, SeededRandom rng)
    {
        double u = rng.NextDouble(), total = world.ObjectCountProbabilities.Sum(), acc = 0;
        for (int i = 0; i < 3; i++)
        {
            acc += world.ObjectCountProbabilities[i] / total;
            if (u < acc) return i + 1;
        }
        return 3;
    }

    private static string Phrase(TextureWorld world, (string Color, string Kind) o, SeededRandom rng)
    {
        var words = new List<string>();
        if (rng.NextDouble() >= world.SizeOmitProbability)
        {
            var sizes = world.SizeWords.Keys.ToList();
            words.Add(Pick(world.SizeWords[Pick(sizes, rng)], rng));
        }
        words.Add(o.Color);
        string texture = Pick(world.Textures, rng);
        if (texture != world.Textures[0] && rng.NextDouble() < world.TextureWordProbability) words.Add(texture);
        words.Add(o.Kind);
        return string.Join(' ', words);
    }

    private static T Pick<T>(IReadOnlyList<T> items, SeededRandom rng) => items[rng.NextInt(items.Count)];
}
