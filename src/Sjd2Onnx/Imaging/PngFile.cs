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

    /// <summary>Encodes <paramref name="image"/> as PNG bytes.</summary>
    public static byte[] Encode(RgbImage image)
    {
        using var stream = new MemoryStream();
        new ImageWriter().WritePng(image.Pixels, image.Width, image.Height, ColorComponents.RedGreenBlue, stream);
        return stream.ToArray();
    }

    /// <summary>Writes the image; a failure leaves no partial file behind.</summary>
    public static void Save(RgbImage image, string path)
    {
        CheckWritable(path);
        string full = Path.GetFullPath(path);
        string temp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            File.WriteAllBytes(temp, Encode(image));
            File.Move(temp, full, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            File.Delete(temp);
            throw new Sjd2Exception($"cannot write '{path}': {e.Message}", e);
        }
    }
}
