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

    /// <summary>Encodes <paramref name="image"/> as PNG bytes, with <paramref name="metadata"/> in text chunks when given.</summary>
    public static byte[] Encode(RgbImage image, PngMetadata? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(image);
        using var stream = new MemoryStream();
        new ImageWriter().WritePng(image.Pixels, image.Width, image.Height, ColorComponents.RedGreenBlue, stream);
        return metadata is null ? stream.ToArray() : PngTextChunks.Insert(stream.ToArray(), metadata.ToTextEntries());
    }

    /// <summary>Writes <paramref name="image"/> as PNG to <paramref name="destination"/> (left open), with <paramref name="metadata"/> when given.</summary>
    public static void Write(RgbImage image, Stream destination, PngMetadata? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(destination);
        destination.Write(Encode(image, metadata));
    }

    /// <summary>Writes <paramref name="image"/> as PNG to <paramref name="destination"/> (left open), with <paramref name="metadata"/> when given.</summary>
    public static Task WriteAsync(RgbImage image, Stream destination, PngMetadata? metadata = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        return destination.WriteAsync(Encode(image, metadata), cancellationToken).AsTask();
    }

    /// <summary>Writes the image (with <paramref name="metadata"/> when given); a failure leaves no partial file behind and the old file unchanged.</summary>
    /// <exception cref="Sjd2Exception">The path cannot be written.</exception>
    public static void Save(RgbImage image, string path, PngMetadata? metadata = null, string what = "output") =>
        OutputFile.WriteAllBytes(path, Encode(image, metadata), what);
}
