using Sjd2Onnx.Imaging;
using Sjd2Onnx.Sampling;

namespace Sjd2Onnx.Evaluation;

/// <summary>
/// Draws scenes by the shapes world's rules, in C#: the same sampling of sizes, jitter, pair
/// shift, background and texture as the Python side's <c>sample_scene</c>, and the same picture as
/// its <c>render</c> (4×4 supersampled, box-filtered down, so edges are anti-aliased). Scenes are
/// drawn for a given prompt, so the world's distribution can be compared with a model's for the
/// same prompts, and corrupted scenes can be painted with extra steps.
/// </summary>
internal static class ShapesRenderer
{
    /// <summary>Subsamples per pixel side, as the Python renderer.</summary>
    public const int Supersample = 4;

    /// <summary>Draws a scene for a prompt: stated sizes kept, the rest by the world's rules.</summary>
    public static ShapesScene Sample(ShapesWorld world, ShapesPrompt prompt, SeededRandom rng)
    {
        var objects = new List<ShapesSceneObject>();
        var sizes = prompt.Objects.Select(o => o.Size ?? world.Sizes[rng.NextInt(world.Sizes.Count)].Name).ToList();
        double Px(string size) => world.Sizes.First(s => s.Name == size).Pixels;
        if (prompt.Relation is null)
        {
            var pos = world.Positions.First(p => p.Name == prompt.Position);
            int j = world.PositionJitter;
            double x = pos.X + rng.NextInt(2 * j + 1) - j, y = pos.Y + rng.NextInt(2 * j + 1) - j;
            objects.Add(new ShapesSceneObject(prompt.Objects[0].Color, prompt.Objects[0].Kind, Px(sizes[0]), x, y));
        }
        else
        {
            var rel = world.Relations.First(r => r.Name == prompt.Relation);
            bool vertical = rel.First.X == rel.Second.X; // above/below: the pair shifts along x
            int s = world.RelationShift, j = world.PairJitter;
            int shift = rng.NextInt(2 * s + 1) - s;
            var centres = new[] { rel.First, rel.Second };
            for (int i = 0; i < 2; i++)
            {
                double x = centres[i].X + (vertical ? shift : 0) + rng.NextInt(2 * j + 1) - j;
                double y = centres[i].Y + (vertical ? 0 : shift) + rng.NextInt(2 * j + 1) - j;
                objects.Add(new ShapesSceneObject(prompt.Objects[i].Color, prompt.Objects[i].Kind, Px(sizes[i]), x, y));
            }
        }
        int background = rng.NextInt(world.Backgrounds.Count);
        bool textured = rng.NextDouble() < world.Texture.Probability;
        return new ShapesScene(prompt, objects, background, textured);
    }

    /// <summary>The paint steps of a scene's shapes, in drawing order.</summary>
    public static IEnumerable<ShapesPaint> Paints(ShapesWorld world, IEnumerable<ShapesSceneObject> objects) =>
        objects.Select(o => new ShapesPaint(o.Contains, ColorOf(world, o.Color), o.Bounds));

    /// <summary>The RGB value of a world colour.</summary>
    public static (byte R, byte G, byte B) ColorOf(ShapesWorld world, string color)
    {
        var c = world.Colors.First(c => c.Name == color);
        return (c.R, c.G, c.B);
    }

    /// <summary>Renders a scene (world image size).</summary>
    public static RgbImage Render(ShapesWorld world, ShapesScene scene) =>
        Render(world, scene.Background, scene.Textured, Paints(world, scene.Objects));

    /// <summary>Renders paint steps over a background (world image size).</summary>
    public static RgbImage Render(ShapesWorld world, int background, bool textured, IEnumerable<ShapesPaint> paints)
    {
        int n = world.ImageSize, ss = Supersample, big = n * ss;
        var sub = new byte[big * big * 3];
        var bg = world.Backgrounds[background];
        int cell = world.Texture.Cell * ss;
        for (int y = 0; y < big; y++)
            for (int x = 0; x < big; x++)
            {
                int t = !textured ? 0 : ((y / cell + x / cell) % 2 * 2 - 1) * world.Texture.Amplitude;
                int i = 3 * (y * big + x);
                sub[i] = Clamp(bg.R + t); sub[i + 1] = Clamp(bg.G + t); sub[i + 2] = Clamp(bg.B + t);
            }
        var canvas = (byte[])sub.Clone();
        foreach (var paint in paints)
        {
            var (bx0, by0, bx1, by1) = paint.Bounds ?? (0, 0, n, n);
            int x0 = Math.Max(0, (int)Math.Floor(bx0 * ss) - 1), x1 = Math.Min(big, (int)Math.Ceiling(bx1 * ss) + 1);
            int y0 = Math.Max(0, (int)Math.Floor(by0 * ss) - 1), y1 = Math.Min(big, (int)Math.Ceiling(by1 * ss) + 1);
            for (int y = y0; y < y1; y++)
                for (int x = x0; x < x1; x++)
                {
                    if (!paint.Contains((x + 0.5) / ss, (y + 0.5) / ss)) continue;
                    int i = 3 * (y * big + x);
                    if (paint.Color is { } c) (sub[i], sub[i + 1], sub[i + 2]) = c;
                    else (sub[i], sub[i + 1], sub[i + 2]) = (canvas[i], canvas[i + 1], canvas[i + 2]);
                }
        }
        var px = new byte[n * n * 3];
        for (int y = 0; y < n; y++)
            for (int x = 0; x < n; x++)
                for (int ch = 0; ch < 3; ch++)
                {
                    int sum = 0;
                    for (int dy = 0; dy < ss; dy++)
                        for (int dx = 0; dx < ss; dx++)
                            sum += sub[3 * ((y * ss + dy) * big + x * ss + dx) + ch];
                    px[3 * (y * n + x) + ch] = (byte)((sum + ss * ss / 2) / (ss * ss));
                }
        return new RgbImage(n, n, px);
    }

    private static byte Clamp(int v) => (byte)Math.Clamp(v, 0, 255);
}
