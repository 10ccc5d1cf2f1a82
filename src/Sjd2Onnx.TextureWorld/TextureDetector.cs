using Sjd2Onnx.Imaging;

namespace Sjd2Onnx.Evaluation;

/// <summary>
/// Finds the objects of an entropy-world image as <c>texture_eval.detect</c> does: colour by hue,
/// 8-connected regions per colour, and occlusion-aware template fitting. Hue and saturation are
/// computed in single precision and fit scores in double precision, as numpy does there.
/// </summary>
internal sealed class TextureDetector
{
    private readonly TextureWorld _world;
    private readonly float[] _hues;

    public TextureDetector(TextureWorld world)
    {
        _world = world;
        _hues = world.Colors.Select(c => (float)(PaletteHue(c.R, c.G, c.B) * 360.0)).ToArray();
    }

    /// <summary>The objects in an image, in palette order and, per colour, in order of their first pixel.</summary>
    public List<TextureDetection> Detect(RgbImage image)
    {
        int n = _world.ImageSize;
        if (image.Width != n || image.Height != n)
            throw new Sjd2Exception($"TextureEval scores {n}x{n} images (the world's size); this one is {image.Width}x{image.Height}.");
        var labels = ColorLabels(image);
        var found = new List<TextureDetection>();
        for (int ci = 0; ci < _world.Colors.Count; ci++)
        {
            var mask = new bool[n * n];
            int count = 0;
            for (int i = 0; i < mask.Length; i++)
                if (labels[i] == ci) { mask[i] = true; count++; }
            if (count < TextureEvaluator.MinArea) continue;
            // a region without interior is the anti-aliased seam of two other colours or a speck, not an object
            var comps = Components(mask, n).Where(c => Count(c) >= TextureEvaluator.MinArea && Count(Erode(c, n)) >= 2).ToList();
            if (comps.Count == 0) continue;
            var ignore = new bool[n * n];
            for (int i = 0; i < ignore.Length; i++) ignore[i] = labels[i] >= 0 && !mask[i];
            var union = new bool[n * n];
            foreach (var c in comps)
                for (int i = 0; i < union.Length; i++) union[i] |= c[i];
            var groups = new List<bool[]> { union };
            if (comps.Count > 1 && !PythonFloat.Round3AtLeast(Fit(union, ignore).Iou, TextureEvaluator.MergeIouThousandths))
                groups = comps;
            foreach (var g in groups)
            {
                int pixels = Count(g);
                found.Add(new TextureDetection(_world.Colors[ci].Name, pixels,
                    pixels < TextureEvaluator.MinObjectArea ? null : Fit(g, ignore)));
            }
        }
        return found;
    }

    /// <summary>Per pixel, the palette index of the nearest hue for saturated, bright enough pixels; -1 for background.</summary>
    public int[] ColorLabels(RgbImage image)
    {
        int count = image.Width * image.Height;
        var labels = new int[count];
        var p = image.Pixels;
        for (int i = 0; i < count; i++)
        {
            float r = p[i * 3] / 255f, g = p[i * 3 + 1] / 255f, b = p[i * 3 + 2] / 255f;
            float mx = MathF.Max(r, MathF.Max(g, b));
            float mn = MathF.Min(r, MathF.Min(g, b));
            float d = mx - mn;
            float s = mx > 0 ? d / MathF.Max(mx, 1e-6f) : 0f;
            if (!(s >= TextureEvaluator.SatMin && mx >= TextureEvaluator.ValMin))
            {
                labels[i] = -1;
                continue;
            }
            float dd = MathF.Max(d, 1e-6f);
            float h;
            if (mx == r)
            {
                float m = (g - b) / dd % 6f; // numpy's float remainder: fmod, then moved into [0, 6)
                if (m < 0) m += 6f;
                h = m * 60f;
            }
            else if (mx == g) h = ((b - r) / dd + 2f) * 60f;
            else h = ((r - g) / dd + 4f) * 60f;
            if (!(d > 0)) h = 0f;
            int best = 0;
            float bestDist = float.PositiveInfinity;
            for (int k = 0; k < _hues.Length; k++)
            {
                float dist = MathF.Abs(h - _hues[k]);
                dist = MathF.Min(dist, 360f - dist);
                if (dist < bestDist) (best, bestDist) = (k, dist);
            }
            labels[i] = best;
        }
        return labels;
    }

    /// <summary>
    /// The best upright shape per kind for a region; template pixels on <paramref name="ignore"/>
    /// (other colours, possible occluders) count <see cref="TextureEvaluator.OccluderWeight"/> against it instead of 1.
    /// </summary>
    public TextureShapeFit Fit(bool[] mask, bool[] ignore)
    {
        int n = _world.ImageSize;
        int x0 = int.MaxValue, x1 = int.MinValue, y0 = int.MaxValue, y1 = int.MinValue, area = 0;
        for (int y = 0; y < n; y++)
            for (int x = 0; x < n; x++)
                if (mask[y * n + x])
                {
                    x0 = Math.Min(x0, x); x1 = Math.Max(x1, x + 1);
                    y0 = Math.Min(y0, y); y1 = Math.Max(y1, y + 1);
                    area++;
                }
        double bx = (x0 + x1) / 2.0, by = (y0 + y1) / 2.0, s0 = Math.Max(x1 - x0, y1 - y0);
        const int pad = 8;
        var window = (X0: Math.Max(0, x0 - pad), X1: Math.Min(n, x1 + pad), Y0: Math.Max(0, y0 - pad), Y1: Math.Min(n, y1 + pad));

        TextureShapeFit? best = null;
        foreach (var kind in _world.Shapes)
        {
            var (cx, cy, s, _) = BestOf(kind, Grid(bx, by, s0, [-4, -2, 0, 2, 4], [-2, 0, 2, 4, 6, 8]), mask, ignore, window, area);
            var fine = BestOf(kind, Grid(cx, cy, s, [-1, -0.5, 0, 0.5, 1], [-1, -0.5, 0, 0.5, 1]), mask, ignore, window, area);
            if (best is null || fine.Score > best.Iou) best = new TextureShapeFit(kind, fine.Score, fine.X, fine.Y, fine.S);
        }
        return best!;
    }

    // Candidates in the Python order: size step outermost, then x, then y.
    private static List<(double X, double Y, double S)> Grid(double cx, double cy, double s, double[] shifts, double[] sizeSteps)
    {
        var list = new List<(double, double, double)>(shifts.Length * shifts.Length * sizeSteps.Length);
        foreach (var ds in sizeSteps)
            foreach (var dx in shifts)
                foreach (var dy in shifts)
                    list.Add((cx + dx, cy + dy, s + ds));
        return list;
    }

    // The first candidate with the highest score (numpy's argmax).
    private (double X, double Y, double S, double Score) BestOf(string kind, List<(double X, double Y, double S)> candidates,
        bool[] mask, bool[] ignore, (int X0, int X1, int Y0, int Y1) w, int area)
    {
        (double, double, double, double) best = default;
        double bestScore = double.NegativeInfinity;
        foreach (var (cx, cy, s) in candidates)
        {
            double score = Score(kind, (float)cx, (float)cy, (float)s, mask, ignore, w, area);
            if (score > bestScore) (best, bestScore) = ((cx, cy, s, score), score);
        }
        return best;
    }

    private double Score(string kind, float cx, float cy, float s, bool[] mask, bool[] ignore, (int X0, int X1, int Y0, int Y1) w, int area)
    {
        int n = _world.ImageSize;
        long inter = 0, hidden = 0, total = 0;
        float h = s / 2f;
        int shape = kind switch { "circle" => 0, "square" => 1, _ => 2 };
        for (int y = w.Y0; y < w.Y1; y++)
        {
            float dy = (y + 0.5f) - cy;
            for (int x = w.X0; x < w.X1; x++)
            {
                float dx = (x + 0.5f) - cx;
                if (!Inside(shape, dx, dy, h)) continue;
                total++;
                int i = y * n + x;
                if (mask[i]) inter++;
                else if (ignore[i]) hidden++;
            }
        }
        long outside = total - inter - hidden;
        return inter / Math.Max((double)area + outside + TextureEvaluator.OccluderWeight * hidden, 1.0);
    }

    // The template test (0 circle, 1 square, 2 triangle) at a pixel centre offset (dx, dy) from the candidate's centre; exact in float
    // for the half-pixel grid the candidates lie on.
    private static bool Inside(int shape, float dx, float dy, float h)
    {
        switch (shape)
        {
            case 0: return dx * dx + dy * dy <= h * h;
            case 1: return MathF.Abs(dx) <= h && MathF.Abs(dy) <= h;
            default:
                float depth = dy + h; // an upward triangle, base = height = extent
                return depth >= 0 && depth <= 2 * h && MathF.Abs(dx) <= depth / 2f;
        }
    }

    /// <summary>8-connected components of a mask, ordered by their first pixel in row-major order.</summary>
    public static List<bool[]> Components(bool[] mask, int n)
    {
        var seen = new bool[mask.Length];
        var result = new List<bool[]>();
        var stack = new Stack<int>();
        for (int start = 0; start < mask.Length; start++)
        {
            if (!mask[start] || seen[start]) continue;
            var comp = new bool[mask.Length];
            seen[start] = true;
            stack.Push(start);
            while (stack.Count > 0)
            {
                int i = stack.Pop();
                comp[i] = true;
                int y = i / n, x = i % n;
                for (int yy = Math.Max(0, y - 1); yy <= Math.Min(n - 1, y + 1); yy++)
                    for (int xx = Math.Max(0, x - 1); xx <= Math.Min(n - 1, x + 1); xx++)
                    {
                        int j = yy * n + xx;
                        if (mask[j] && !seen[j]) { seen[j] = true; stack.Push(j); }
                    }
            }
            result.Add(comp);
        }
        return result;
    }

    /// <summary>3x3 erosion; outside the image counts as set, so a shape at the border keeps its interior.</summary>
    public static bool[] Erode(bool[] mask, int n)
    {
        var result = new bool[mask.Length];
        for (int y = 0; y < n; y++)
            for (int x = 0; x < n; x++)
            {
                bool all = true;
                for (int yy = y - 1; yy <= y + 1 && all; yy++)
                    for (int xx = x - 1; xx <= x + 1 && all; xx++)
                        if (yy >= 0 && yy < n && xx >= 0 && xx < n && !mask[yy * n + xx]) all = false;
                result[y * n + x] = all;
            }
        return result;
    }

    private static int Count(bool[] mask) => mask.Count(b => b);

    // colorsys.rgb_to_hsv's hue in [0, 1) for a palette colour, in double precision as Python computes it.
    private static double PaletteHue(byte r8, byte g8, byte b8)
    {
        double r = r8 / 255.0, g = g8 / 255.0, b = b8 / 255.0;
        double maxc = Math.Max(r, Math.Max(g, b)), minc = Math.Min(r, Math.Min(g, b));
        if (minc == maxc) return 0.0;
        double range = maxc - minc;
        double rc = (maxc - r) / range, gc = (maxc - g) / range, bc = (maxc - b) / range;
        double h = r == maxc ? bc - gc : g == maxc ? 2.0 + rc - bc : 4.0 + gc - rc;
        return PythonFloat.Mod(h / 6.0, 1.0);
    }
}
