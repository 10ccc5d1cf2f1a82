using StbImageWriteSharp;

namespace Sjd2Onnx.Imaging;

/// <summary>Writes PNG files atomically: a temporary file beside the target, then a move.</summary>
public static class PngFile
{
    /// <summary>Checks that a PNG could be written at <paramref name="path"/> (its folder exists).</summary>
    public static void CheckWritable(string path)
    {
        if (string.IsNullOrWhiteSpace(path))
            throw new Sjd2Exception("the output path is empty; pass e.g. --out image.png.");
        string dir = Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".";
        if (!Directory.Exists(dir))
            throw new Sjd2Exception($"the output folder '{dir}' does not exist; create it or choose another --out path.");
        if (Directory.Exists(path))
            throw new Sjd2Exception($"the output path '{path}' is a folder; give a file name such as {Path.Combine(path, "image.png")}.");
    }

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

    /// <summary>Writes the image (with <paramref name="metadata"/> when given); a failure leaves no partial file behind.</summary>
    public static void Save(RgbImage image, string path, PngMetadata? metadata = null)
    {
        CheckWritable(path);
        string full = Path.GetFullPath(path);
        string temp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            File.WriteAllBytes(temp, Encode(image, metadata));
            File.Move(temp, full, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            File.Delete(temp);
            throw new Sjd2Exception($"cannot write '{path}': {e.Message}", e);
        }
    }
}
