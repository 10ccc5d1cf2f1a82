using Sjd2Onnx.Imaging;

namespace Sjd2Onnx.IO;

/// <summary>
/// Reads the small text inputs (model.json, tokenizer files, prompt and response files) with their
/// kind and size checked before the file is opened: a FIFO or a device would block or never end,
/// and a file far larger than any real one would exhaust memory. Every refusal is a one-line
/// <see cref="Sjd2Exception"/> that names the file and the limit.
/// </summary>
internal static class InputFile
{
    /// <summary>Largest model.json, prompt file or response file read (real ones are a few kilobytes).</summary>
    public const long MaxTextBytes = 16L << 20;

    /// <summary>Largest tokenizer file read (real vocabularies and merge lists are a few megabytes).</summary>
    public const long MaxTokenizerBytes = 256L << 20;

    /// <summary>
    /// Checks that <paramref name="path"/> is a regular file (after following links) of at most
    /// <paramref name="maxBytes"/>; <paramref name="what"/> names it in the message (e.g. "model.json").
    /// </summary>
    public static void Check(string path, long maxBytes, string what)
    {
        string? kind = FileKind.Describe(path);
        if (kind is null)
            throw new Sjd2Exception($"{what} '{path}' does not exist; check the path.");
        if (kind != "a regular file")
            throw new Sjd2Exception($"{what} '{path}' is {kind}, not a regular file; give a file.");
        long length;
        try { length = new FileInfo(path).Length; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new Sjd2Exception($"cannot read {what} '{path}': {e.Message}", e);
        }
        if (length > maxBytes)
            throw new Sjd2Exception($"{what} '{path}' has {Size(length)}, more than the {Size(maxBytes)} this reads; is it the right file?");
    }

    /// <summary>The text of a checked file (UTF-8); read errors are one-line <see cref="Sjd2Exception"/>s.</summary>
    public static string ReadAllText(string path, long maxBytes, string what)
    {
        Check(path, maxBytes, what);
        try { return File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new Sjd2Exception($"cannot read {what} '{path}': {e.Message}", e);
        }
    }

    /// <summary>The lines of a checked file (UTF-8).</summary>
    public static string[] ReadAllLines(string path, long maxBytes, string what) =>
        ReadAllText(path, maxBytes, what).ReplaceLineEndings("\n").TrimEnd('\n').Split('\n') is var lines && lines is [""] ? [] : lines;

    private static string Size(long bytes) =>
        bytes >= 1L << 30 ? $"{bytes / (double)(1L << 30):0.#} GiB" : bytes >= 1L << 20 ? $"{bytes / (double)(1L << 20):0.#} MiB" : $"{bytes} bytes";
}
