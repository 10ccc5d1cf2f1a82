namespace Sjd2Onnx.Imaging;

/// <summary>Tiles equally sized images into one grid image.</summary>
public static class ImageGrid
{
    /// <summary>Places the images row by row, <paramref name="columns"/> per row, with a small gap.</summary>
    public static RgbImage Tile(IReadOnlyList<RgbImage> images, int columns, int gap = 2)
    {
        if (images.Count == 0) throw new ArgumentException("no images", nameof(images));
        int w = images[0].Width, h = images[0].Height;
        columns = Math.Clamp(columns, 1, images.Count);
        int rows = (images.Count + columns - 1) / columns;
        int gw = columns * w + (columns - 1) * gap, gh = rows * h + (rows - 1) * gap;
        var pixels = new byte[gw * gh * 3];
        Array.Fill(pixels, (byte)255);
        for (int n = 0; n < images.Count; n++)
        {
            int ox = n % columns * (w + gap), oy = n / columns * (h + gap);
            for (int y = 0; y < h; y++)
                images[n].Pixels.AsSpan(y * w * 3, w * 3).CopyTo(pixels.AsSpan(((oy + y) * gw + ox) * 3, w * 3));
        }
        return new RgbImage(gw, gh, pixels);
    }
}
