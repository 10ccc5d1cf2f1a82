namespace Sjd2Onnx.Cli;

/// <summary>Names and checks the PNG files a command will write, before any work is done.</summary>
internal static class OutputPaths
{
    /// <summary>
    /// The files for <paramref name="count"/> images named by <paramref name="path"/>: the name
    /// itself for one image, NAME-1.png … NAME-N.png for several. A name without extension gets
    /// .png (in both cases, so the names agree); any other extension is refused, since the bytes
    /// are PNG. Each file's folder must exist.
    /// </summary>
    public static IReadOnlyList<string> Png(string path, int count, string option)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new UsageException($"{option} needs a file name such as image.png.");
        if (Directory.Exists(path) || Path.EndsInDirectorySeparator(path))
            throw new UsageException($"{option} '{path}' is a folder; give a file name such as {Path.Combine(path, "image.png")}.");
        // Before .png is added: `--out /dev/null` names the device, not a new /dev/null.png.
        if (Imaging.FileKind.Describe(path) is { } kind && kind is not ("a regular file" or "a folder"))
            throw new UsageException($"{option} '{path}' is {kind}, which is never replaced; give a regular file name such as image.png.");
        string ext = Path.GetExtension(path);
        if (ext.Length == 0) path += ".png";
        else if (ext.Length > 0 && !ext.Equals(".png", StringComparison.OrdinalIgnoreCase))
            throw new UsageException($"sjd2 writes PNG images; name {option} '{path}' with .png, e.g. {Path.ChangeExtension(path, ".png")}.");
        CheckFolder(path, option);
        var paths = count == 1 ? [path] : Enumerable.Range(1, count).Select(i => Numbered(path, i)).ToList();
        foreach (var p in paths) UsageException.FromEngine(() => Imaging.PngFile.CheckWritable(p, option));
        return paths;
    }

    /// <summary>Refuses a path whose folder part names an existing file (<c>notes.txt/a.png</c>).</summary>
    public static void CheckFolder(string path, string option)
    {
        for (string? dir = Path.GetDirectoryName(Path.GetFullPath(path)); !string.IsNullOrEmpty(dir); dir = Path.GetDirectoryName(dir))
        {
            if (File.Exists(dir)) throw new UsageException($"{option} '{path}': '{dir}' is a file, not a folder; choose another path.");
            if (Directory.Exists(dir)) return;
        }
    }

    private static string Numbered(string path, int n)
    {
        string dir = Path.GetDirectoryName(path) ?? "";
        return Path.Combine(dir, $"{Path.GetFileNameWithoutExtension(path)}-{n}{Path.GetExtension(path)}");
    }
}
