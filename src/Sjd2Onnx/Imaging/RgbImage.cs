namespace Sjd2Onnx.Imaging;

/// <summary>An 8-bit RGB image, row-major, 3 bytes per pixel.</summary>
/// <param name="Width">Width in pixels.</param>
/// <param name="Height">Height in pixels.</param>
/// <param name="Pixels">Width·Height·3 bytes.</param>
public sealed record RgbImage(int Width, int Height, byte[] Pixels)
{
    /// <summary>Converts a planar [3, H, W] float image with values in [min, max] to bytes.</summary>
    public static RgbImage FromPlanar(ReadOnlySpan<float> planar, int width, int height, float min, float max)
    {
        var pixels = new byte[width * height * 3];
        int plane = width * height;
        float scale = 255f / (max - min);
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < plane; i++)
            {
                float v = (planar[c * plane + i] - min) * scale;
                pixels[i * 3 + c] = (byte)Math.Clamp(MathF.Round(v), 0f, 255f);
            }
        return new RgbImage(width, height, pixels);
    }
}
