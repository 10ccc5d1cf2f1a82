using StbImageWriteSharp;

namespace Sjd2Onnx.Imaging;

/// <summary>Writes PNG files atomically with the rules of <see cref="OutputFile"/>.</summary>
public static class PngFile
{
    /// <summary>
    /// Checks that a PNG could be written at <paramref name="path"/> (see <see cref="OutputFile.Check"/>):
    /// call it before the work so a bad output path fails first.
    /// </summary>
    /// <exception cref="Sjd2Exception">The path cannot be written.</exception>
    public static void CheckWritable(string path, string what = "output") => OutputFile.Check(path, what);

    /// <summary>Encodes <paramref name="image"/> as PNG bytes.</summary>
    public static byte[] Encode(RgbImage image)
    {
        using var stream = new MemoryStream();
        new ImageWriter().WritePng(image.Pixels, image.Width, image.Height, ColorComponents.RedGreenBlue, stream);
        return stream.ToArray();
    }

    /// <summary>Writes the image; a failure leaves no partial file behind and the old file unchanged.</summary>
    /// <exception cref="Sjd2Exception">The path cannot be written.</exception>
    public static void Save(RgbImage image, string path, string what = "output") =>
        OutputFile.WriteAllBytes(path, Encode(image), what);
}
