namespace Sjd2Onnx.Imaging;

/// <summary>Renders a grid of values (e.g. the pass at which each image token was committed) as a colour-mapped image.</summary>
internal static class HeatMap
{
    // A perceptually ordered dark-blue → teal → green → yellow ramp (viridis-like anchor colours).
    private static readonly (byte R, byte G, byte B)[] Ramp =
    [
        (68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37),
    ];

    /// <summary>
    /// One <paramref name="cell"/>×<paramref name="cell"/> square per value, row-major
    /// (<paramref name="rows"/> × <paramref name="cols"/>), coloured from dark (lowest value) to
    /// yellow (highest), with a one-pixel grid line between cells.
    /// </summary>
    public static RgbImage Render(IReadOnlyList<int> values, int rows, int cols, int cell = 16)
    {
        if (values.Count != rows * cols) throw new ArgumentException("one value per cell", nameof(values));
        if (cell < 2) throw new ArgumentOutOfRangeException(nameof(cell));
        int min = values.Min(), max = values.Max();
        int w = cols * cell, h = rows * cell;
        var pixels = new byte[w * h * 3];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
            {
                var (cr, cg, cb) = Color(max == min ? 0 : (values[r * cols + c] - min) / (double)(max - min));
                for (int y = 0; y < cell; y++)
                    for (int x = 0; x < cell; x++)
                    {
                        bool line = x == cell - 1 || y == cell - 1;
                        int o = (((r * cell) + y) * w + (c * cell) + x) * 3;
                        pixels[o] = line ? (byte)255 : cr;
                        pixels[o + 1] = line ? (byte)255 : cg;
                        pixels[o + 2] = line ? (byte)255 : cb;
                    }
            }
        return new RgbImage(w, h, pixels);
    }

    /// <summary>Colour of a value in [0, 1] on the ramp.</summary>
    public static (byte R, byte G, byte B) Color(double t)
    {
        t = Math.Clamp(t, 0, 1) * (Ramp.Length - 1);
        int i = Math.Min((int)t, Ramp.Length - 2);
        double f = t - i;
        var (a, b) = (Ramp[i], Ramp[i + 1]);
        return ((byte)Math.Round(a.R + f * (b.R - a.R)), (byte)Math.Round(a.G + f * (b.G - a.G)), (byte)Math.Round(a.B + f * (b.B - a.B)));
    }
}
