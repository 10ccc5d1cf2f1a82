using Sjd2Onnx.Imaging;

namespace Sjd2Onnx.Evaluation;

/// <summary>
/// Finds the shapes in an image: background from the median of the border pixels, foreground by
/// colour distance to it (40% of the weakest world colour's contrast), 8-connected components
/// (tiny ones dropped as artefacts), and per component: colour = nearest world colour to the median
/// of its inner pixels; kind = the ideal shape (same area, same centroid) it overlaps best, by IoU —
/// fill ratio and top/bottom balance alone confuse squares whose corners the VQ decoder rounds with
/// circles; size = nearest world size by the extent its area implies; position = centroid.
/// Coordinates are scaled to the world's image size.
/// </summary>
internal static class ShapesSegmenter
{
    /// <summary>The kinds the classifier knows, with their area over bounding-box area.</summary>
    public static readonly IReadOnlyDictionary<string, double> KindFill = new Dictionary<string, double>
    {
        ["circle"] = Math.PI / 4,
        ["square"] = 1.0,
        ["triangle"] = 0.5,
    };

    /// <summary>A component whose best template overlap (IoU) is below this has no kind.</summary>
    public const double MinKindIou = 0.85;

    /// <summary>A component whose colour is further than this (RGB distance) from every world colour has no colour.</summary>
    public const double ColorTolerance = 80;

    /// <summary>Components smaller than this fraction of the smallest ideal shape area are artefacts.</summary>
    public const double MinAreaFraction = 0.3;

    public static List<ShapesDetection> Detect(ShapesWorld world, RgbImage image)
    {
        int w = image.Width, h = image.Height;
        var px = image.Pixels;
        var (scale, bg, threshold) = Foreground(world, image);
        var mask = new bool[w * h];
        for (int i = 0; i < w * h; i++)
            mask[i] = Dist(px[3 * i], px[3 * i + 1], px[3 * i + 2], bg.R, bg.G, bg.B) > threshold;

        int minSize = world.Sizes.Min(s => s.Pixels);
        double minArea = MinAreaFraction * 0.5 * minSize * minSize * scale * scale;

        var label = new int[w * h];
        var found = new List<ShapesDetection>();
        var stack = new Stack<int>();
        var members = new List<int>();
        int next = 0;
        for (int start = 0; start < w * h; start++)
        {
            if (!mask[start] || label[start] != 0) continue;
            next++;
            members.Clear();
            label[start] = next;
            stack.Push(start);
            while (stack.Count > 0)
            {
                int p = stack.Pop();
                members.Add(p);
                int x = p % w, y = p / w;
                for (int dy = -1; dy <= 1; dy++)
                    for (int dx = -1; dx <= 1; dx++)
                    {
                        int nx = x + dx, ny = y + dy;
                        if ((uint)nx >= (uint)w || (uint)ny >= (uint)h) continue;
                        int q = ny * w + nx;
                        if (mask[q] && label[q] == 0) { label[q] = next; stack.Push(q); }
                    }
            }
            if (members.Count < minArea) continue;
            found.Add(Classify(world, image, label, next, members, scale));
        }
        found.Sort((a, b) => b.Area.CompareTo(a.Area));
        return found;
    }

    /// <summary>
    /// The background's shade and texture: the pixels not in the foreground mask, their mean grey
    /// level (nearest world shade), and their mean deviation along the world's checker pattern.
    /// </summary>
    public static ShapesBackground MeasureBackground(ShapesWorld world, RgbImage image)
    {
        int w = image.Width, h = image.Height;
        var px = image.Pixels;
        var (scale, bg, threshold) = Foreground(world, image);
        double cell = world.Texture.Cell * scale;
        double sum = 0, signed = 0, plus = 0;
        int count = 0;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int i = 3 * (y * w + x);
                if (Dist(px[i], px[i + 1], px[i + 2], bg.R, bg.G, bg.B) > threshold) continue;
                double grey = (px[i] + px[i + 1] + px[i + 2]) / 3.0;
                int sign = ((int)(y / cell) + (int)(x / cell)) % 2 * 2 - 1;
                sum += grey;
                signed += sign * grey;
                plus += sign;
                count++;
            }
        if (count == 0) return new ShapesBackground(0, 0, 0, false);
        double level = sum / count;
        // signed mean deviation: sum(sign·(grey − level)) / count, unbiased when the two phases are uneven
        double amplitude = (signed - plus * level) / count;
        int shade = Enumerable.Range(0, world.Backgrounds.Count)
            .MinBy(k => Math.Abs((world.Backgrounds[k].R + world.Backgrounds[k].G + world.Backgrounds[k].B) / 3.0 - level));
        return new ShapesBackground(shade, level, amplitude, amplitude > world.Texture.Amplitude / 2.0);
    }

    private static ShapesDetection Classify(ShapesWorld world, RgbImage image, int[] label, int id, List<int> members, double scale)
    {
        int w = image.Width, h = image.Height;
        var px = image.Pixels;
        int minX = int.MaxValue, maxX = int.MinValue, minY = int.MaxValue, maxY = int.MinValue;
        double sx = 0, sy = 0;
        foreach (int p in members)
        {
            int x = p % w, y = p / w;
            sx += x; sy += y;
            minX = Math.Min(minX, x); maxX = Math.Max(maxX, x);
            minY = Math.Min(minY, y); maxY = Math.Max(maxY, y);
        }
        double midY = (minY + maxY) / 2.0, top = 0, bottom = 0;
        foreach (int p in members)
        {
            int y = p / w;
            if (y < midY) top++;
            else if (y > midY) bottom++;
            else { top += 0.5; bottom += 0.5; }
        }
        // the inner pixels: the anti-aliased rim (one world pixel) peeled off
        var core = Erode(members, w, h, Math.Max(1, (int)Math.Round(scale)));
        var colorPixels = core.Count >= 3 ? core : members;
        var rgb = (Median(colorPixels, px, 0), Median(colorPixels, px, 1), Median(colorPixels, px, 2));

        string? color = null;
        double best = double.MaxValue;
        foreach (var c in world.Colors)
        {
            double d = Dist(rgb.Item1, rgb.Item2, rgb.Item3, c.R, c.G, c.B);
            if (d < best) { best = d; color = c.Name; }
        }
        string nearest = color!;
        if (best > ColorTolerance) color = null;
        double purity = Purity(world, colorPixels, px, nearest);
        double solidity = Solidity(WorldGrid(members, w, scale));

        double fill = members.Count / (double)((maxX - minX + 1) * (maxY - minY + 1));
        double topBottom = top / Math.Max(bottom, 1);

        // centroid in image pixels (pixel centres at +0.5)
        double pcx = sx / members.Count + 0.5, pcy = sy / members.Count + 0.5;
        string? kind = null;
        double bestIou = 0;
        foreach (var k in world.Shapes)
        {
            double iou = TemplateIou(k, label, id, w, h, minX, maxX, minY, maxY, pcx, pcy, members.Count);
            if (iou > bestIou) { bestIou = iou; kind = k; }
        }
        if (bestIou < MinKindIou) kind = null;

        double area = members.Count / (scale * scale);
        double extent = Math.Sqrt(area / (kind is null ? 0.75 : KindFill[kind]));
        string size = world.Sizes.MinBy(s => Math.Abs(Math.Log(extent / s.Pixels))).Name;
        return new ShapesDetection(color, kind, size, pcx / scale, pcy / scale, area, fill, topBottom, bestIou, rgb)
        {
            Purity = purity,
            Solidity = solidity,
            Extent = extent,
        };
    }

    /// <summary>
    /// Intersection over union between the component and the ideal shape of a kind with the
    /// component's area, centred on its centroid; the ideal shape's pixel coverage is supersampled 4×4.
    /// (Searching small shifts and scalings as well was tried: it raises the wrong kinds' overlap as
    /// much as the right one's and costs twenty times as much.)
    /// </summary>
    private static double TemplateIou(string kind, int[] label, int id, int w, int h,
        int minX, int maxX, int minY, int maxY, double cx, double cy, int area)
    {
        int margin = 2 + (Math.Max(maxX - minX, maxY - minY) + 1) / 4;
        int x0 = Math.Max(0, minX - margin), x1 = Math.Min(w - 1, maxX + margin);
        int y0 = Math.Max(0, minY - margin), y1 = Math.Min(h - 1, maxY + margin);
        const int sub = 4;
        double e = Math.Sqrt(area / KindFill[kind]); // circle diameter, square side, triangle base and height
        double inter = 0, union = 0;
        for (int y = y0; y <= y1; y++)
            for (int x = x0; x <= x1; x++)
            {
                int inside = 0;
                for (int sy = 0; sy < sub; sy++)
                    for (int sx = 0; sx < sub; sx++)
                        if (Inside(kind, x + (sx + 0.5) / sub - cx, y + (sy + 0.5) / sub - cy, e)) inside++;
                double t = inside / (double)(sub * sub);
                bool m = label[y * w + x] == id;
                inter += m ? t : 0;
                union += m ? 1 : t;
            }
        return union > 0 ? inter / union : 0;
    }

    /// <summary>Whether a point (relative to the shape's centroid) lies inside the ideal shape of extent e.</summary>
    private static bool Inside(string kind, double dx, double dy, double e) => kind switch
    {
        "circle" => dx * dx + dy * dy <= e * e / 4,
        "square" => Math.Abs(dx) <= e / 2 && Math.Abs(dy) <= e / 2,
        // upward isosceles triangle, base = height = e; its centroid is a third of the height above the base
        "triangle" => dy >= -2 * e / 3 && dy <= e / 3 && Math.Abs(dx) <= (dy + 2 * e / 3) / 2,
        _ => false,
    };

    /// <summary>The members that stay after peeling <paramref name="depth"/> rims of 4-neighbour boundary pixels off.</summary>
    private static List<int> Erode(List<int> members, int w, int h, int depth)
    {
        var inside = new HashSet<int>(members);
        for (int d = 0; d < depth; d++)
        {
            var keep = new HashSet<int>();
            foreach (int p in inside)
            {
                int x = p % w, y = p / w;
                if (x > 0 && x < w - 1 && y > 0 && y < h - 1 &&
                    inside.Contains(p - 1) && inside.Contains(p + 1) && inside.Contains(p - w) && inside.Contains(p + w))
                    keep.Add(p);
            }
            inside = keep;
        }
        return [.. members.Where(inside.Contains)];
    }

    /// <summary>Share of the pixels whose nearest world colour is <paramref name="color"/>.</summary>
    private static double Purity(ShapesWorld world, List<int> pixels, byte[] px, string color)
    {
        int same = 0;
        foreach (int p in pixels)
        {
            double best = double.MaxValue;
            string? nearest = null;
            foreach (var c in world.Colors)
            {
                double d = Dist(px[3 * p], px[3 * p + 1], px[3 * p + 2], c.R, c.G, c.B);
                if (d < best) { best = d; nearest = c.Name; }
            }
            if (nearest == color) same++;
        }
        return pixels.Count == 0 ? 0 : (double)same / pixels.Count;
    }

    /// <summary>
    /// The component on the world's pixel grid: for images k times the world's size, the k×k blocks
    /// at least half covered (a nearest-neighbour upscale's staircase edges would otherwise read as
    /// dents); the pixels themselves otherwise.
    /// </summary>
    private static List<(int X, int Y)> WorldGrid(List<int> members, int w, double scale)
    {
        int k = (int)Math.Round(scale);
        if (k < 2) return [.. members.Select(p => (p % w, p / w))];
        var counts = new Dictionary<(int, int), int>();
        foreach (int p in members)
        {
            var block = (p % w / k, p / w / k);
            counts[block] = counts.GetValueOrDefault(block) + 1;
        }
        return [.. counts.Where(c => 2 * c.Value >= k * k).Select(c => c.Key)];
    }

    /// <summary>
    /// Pixels over the pixel centres inside their convex hull (hull boundary included). A digitally
    /// convex shape scores 1 whatever its size; a bite or a tear leaves hull points uncovered.
    /// </summary>
    private static double Solidity(List<(int X, int Y)> pixels)
    {
        if (pixels.Count == 0) return 0;
        int minX = pixels.Min(p => p.X), maxX = pixels.Max(p => p.X), minY = pixels.Min(p => p.Y), maxY = pixels.Max(p => p.Y);
        // the hull of the pixel centres: only each row's leftmost and rightmost pixel can be a vertex
        int rows = maxY - minY + 1;
        var left = new int[rows];
        var right = new int[rows];
        Array.Fill(left, int.MaxValue);
        Array.Fill(right, int.MinValue);
        foreach (var (x, y) in pixels)
        {
            int r = y - minY;
            left[r] = Math.Min(left[r], x);
            right[r] = Math.Max(right[r], x);
        }
        var points = new List<(long X, long Y)>();
        for (int r = 0; r < rows; r++)
            if (left[r] != int.MaxValue) { points.Add((left[r], r + minY)); if (right[r] != left[r]) points.Add((right[r], r + minY)); }
        var hull = ConvexHull(points);
        long inside = 0;
        for (int y = minY; y <= maxY; y++)
            for (int x = minX; x <= maxX; x++)
                if (InHull(hull, x, y)) inside++;
        return inside == 0 ? 1 : Math.Min(1, pixels.Count / (double)inside);
    }

    private static List<(long X, long Y)> ConvexHull(List<(long X, long Y)> points)
    {
        var p = points.Distinct().OrderBy(q => q.X).ThenBy(q => q.Y).ToList();
        if (p.Count < 3) return p;
        var hull = new List<(long X, long Y)>();
        static long Cross((long X, long Y) o, (long X, long Y) a, (long X, long Y) b) => (a.X - o.X) * (b.Y - o.Y) - (a.Y - o.Y) * (b.X - o.X);
        foreach (var pass in new[] { p, Enumerable.Reverse(p).ToList() })
        {
            int start = hull.Count;
            foreach (var q in pass)
            {
                while (hull.Count >= start + 2 && Cross(hull[^2], hull[^1], q) <= 0) hull.RemoveAt(hull.Count - 1);
                hull.Add(q);
            }
            hull.RemoveAt(hull.Count - 1);
        }
        return hull;
    }

    /// <summary>Whether a lattice point lies inside or on a counter-clockwise hull (degenerate hulls: on the segment).</summary>
    private static bool InHull(List<(long X, long Y)> hull, long x, long y)
    {
        if (hull.Count == 1) return hull[0] == (x, y);
        if (hull.Count == 2)
        {
            var (a, b) = (hull[0], hull[1]);
            long cross = (b.X - a.X) * (y - a.Y) - (b.Y - a.Y) * (x - a.X);
            return cross == 0 && Math.Min(a.X, b.X) <= x && x <= Math.Max(a.X, b.X) && Math.Min(a.Y, b.Y) <= y && y <= Math.Max(a.Y, b.Y);
        }
        for (int i = 0; i < hull.Count; i++)
        {
            var (a, b) = (hull[i], hull[(i + 1) % hull.Count]);
            if ((b.X - a.X) * (y - a.Y) - (b.Y - a.Y) * (x - a.X) < 0) return false;
        }
        return true;
    }

    // The image's scale to the world, its background colour, and the colour distance above which a
    // pixel belongs to an object (shared by detection and the background measurement).
    private static (double Scale, (byte R, byte G, byte B) Background, double Threshold) Foreground(ShapesWorld world, RgbImage image)
    {
        double scale = (image.Width + image.Height) / 2.0 / world.ImageSize;
        var bg = Background(image, Math.Max(1, (int)Math.Round(2 * scale)));
        double minContrast = world.Colors.Min(c => Dist(c.R, c.G, c.B, bg.R, bg.G, bg.B));
        return (scale, bg, Math.Clamp(0.4 * minContrast, 30, 100));
    }

    private static (byte R, byte G, byte B) Background(RgbImage image, int border)
    {
        int w = image.Width, h = image.Height;
        var r = new List<byte>();
        var g = new List<byte>();
        var b = new List<byte>();
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                if (x >= border && x < w - border && y >= border && y < h - border) continue;
                int i = 3 * (y * w + x);
                r.Add(image.Pixels[i]); g.Add(image.Pixels[i + 1]); b.Add(image.Pixels[i + 2]);
            }
        r.Sort(); g.Sort(); b.Sort();
        return (r[r.Count / 2], g[g.Count / 2], b[b.Count / 2]);
    }

    private static byte Median(List<int> pixels, byte[] px, int channel)
    {
        var v = new byte[pixels.Count];
        for (int i = 0; i < v.Length; i++) v[i] = px[3 * pixels[i] + channel];
        Array.Sort(v);
        return v[v.Length / 2];
    }

    private static double Dist(double r1, double g1, double b1, double r2, double g2, double b2)
    {
        double dr = r1 - r2, dg = g1 - g2, db = b1 - b2;
        return Math.Sqrt(dr * dr + dg * dg + db * db);
    }
}
