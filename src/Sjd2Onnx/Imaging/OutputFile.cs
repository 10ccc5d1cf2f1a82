using System.Collections.Concurrent;
using System.Text;

namespace Sjd2Onnx.Imaging;

/// <summary>
/// Output files written safely: checked before any work starts, then written to a temporary file
/// beside the target and moved over it, so a failure leaves neither a partial file nor a changed one.
/// </summary>
/// <remarks>
/// Rules: the target's folder must exist and be writable; an existing target must be a regular file
/// (folders, devices such as /dev/null, FIFOs and sockets are refused, never replaced); a symbolic
/// link is followed and its final regular-file target is replaced, so the link itself stays (a
/// dangling link creates its target). The check and the move are separate steps: a target swapped
/// for a special file in between is not detected.
/// </remarks>
public static class OutputFile
{
    private const int MaxNameBytes = 255; // NAME_MAX of the common Linux and macOS file systems

    // Temporary files between their creation and their move or deletion: a process ended at once
    // (a second Ctrl+C, or a phase that outlived its grace) deletes them first.
    private static readonly ConcurrentDictionary<string, byte> Pending = new();

    /// <summary>
    /// Checks that <paramref name="path"/> can be written (creatable or a replaceable regular file in a
    /// writable folder) and returns the full path that will be written: the final target of a link.
    /// </summary>
    /// <param name="path">The output path as the user gave it.</param>
    /// <param name="what">How messages name the output, e.g. "--out" or "--json" (default "output").</param>
    /// <exception cref="Sjd2Exception">The path cannot be written; the message names the fix.</exception>
    public static string Check(string path, string what = "output")
    {
        if (string.IsNullOrWhiteSpace(path))
            throw new Sjd2Exception($"{what} path is empty; give a file name such as image.png.");
        string target = Resolve(path, what);
        string? kind = FileKind.Describe(target);
        if (kind == "a folder")
            throw new Sjd2Exception($"{what} '{path}' is a folder; give a file name such as {Path.Combine(path, "image.png")}.");
        if (kind is not null && kind != "a regular file")
            throw new Sjd2Exception($"{what} '{path}' is {kind}, which is never replaced; give a regular file name such as image.png.");
        string dir = Path.GetDirectoryName(target) ?? ".";
        if (!Directory.Exists(dir))
            throw new Sjd2Exception(File.Exists(dir)
                ? $"{what} '{path}' lies under '{dir}', which is a file, not a folder; choose another path."
                : $"the {what} folder '{dir}' does not exist; create it or choose another path.");
        string name = Path.GetFileName(target);
        if (Encoding.UTF8.GetByteCount(name) > MaxNameBytes)
            throw new Sjd2Exception($"the file name of {what} is {Encoding.UTF8.GetByteCount(name)} bytes long, the file system allows {MaxNameBytes}; choose a shorter name.");
        if (kind is not null && File.GetAttributes(target).HasFlag(FileAttributes.ReadOnly))
            throw new Sjd2Exception($"{what} '{path}' is read-only; make it writable or choose another name.");
        ProbeFolder(dir, what);
        return target;
    }

    /// <summary>
    /// Checks that <paramref name="dir"/> is a folder that exists and is writable, or can be created
    /// (its nearest existing parent is a writable folder). Creates nothing.
    /// </summary>
    /// <exception cref="Sjd2Exception">The folder cannot be used; the message names the fix.</exception>
    public static void CheckFolder(string dir, string what = "output folder")
    {
        if (string.IsNullOrWhiteSpace(dir))
            throw new Sjd2Exception($"{what} path is empty; give a folder name.");
        string full = FullPath(dir, what);
        string? existing = full;
        while (existing is not null && !Directory.Exists(existing))
        {
            if (File.Exists(existing))
                throw new Sjd2Exception(existing == full
                    ? $"{what} '{dir}' is a file; give a folder (it is created if missing)."
                    : $"{what} '{dir}' lies under '{existing}', which is a file, not a folder; choose another path.");
            existing = Path.GetDirectoryName(existing);
        }
        ProbeFolder(existing ?? Path.GetPathRoot(full) ?? full, what);
    }

    /// <summary>Writes <paramref name="bytes"/> to <paramref name="path"/> after <see cref="Check"/>; atomic replace.</summary>
    /// <exception cref="Sjd2Exception">The file cannot be written; nothing is left behind.</exception>
    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes, string what = "output")
    {
        string target = Check(path, what);
        string temp = TempName(Path.GetDirectoryName(target)!);
        Pending[temp] = 0;
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
                stream.Write(bytes);
            if (!OperatingSystem.IsWindows() && File.Exists(target))
                File.SetUnixFileMode(temp, File.GetUnixFileMode(target)); // a replaced file keeps its permissions
            File.Move(temp, target, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(temp);
            throw new Sjd2Exception($"cannot write {what} '{path}': {OneLine(e.Message)}", e);
        }
        finally
        {
            Pending.TryRemove(temp, out _);
        }
    }

    /// <summary>Deletes the temporary files of writes and checks still in progress, before the process ends at once.</summary>
    internal static void DeletePendingTemporaryFiles()
    {
        foreach (string temp in Pending.Keys) TryDelete(temp);
    }

    /// <summary>Writes <paramref name="text"/> as UTF-8 (no byte-order mark) like <see cref="WriteAllBytes"/>.</summary>
    /// <exception cref="Sjd2Exception">The file cannot be written; nothing is left behind.</exception>
    public static void WriteAllText(string path, string text, string what = "output") =>
        WriteAllBytes(path, new UTF8Encoding(false).GetBytes(text), what);

    private static string Resolve(string path, string what)
    {
        string full = FullPath(path, what);
        try
        {
            // A link is written through: its final target is what gets replaced.
            return new FileInfo(full).LinkTarget is null
                ? full
                : Path.GetFullPath(File.ResolveLinkTarget(full, returnFinalTarget: true)!.FullName);
        }
        catch (IOException e)
        {
            throw new Sjd2Exception($"{what} '{path}' is a symbolic link that cannot be followed ({OneLine(e.Message)}); give a plain file name.", e);
        }
    }

    private static string FullPath(string path, string what)
    {
        try { return Path.GetFullPath(path); }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw new Sjd2Exception($"{what} '{path}' is not a valid path; choose another.", e);
        }
    }

    // Creating and deleting a file is the only reliable test (permissions, ACLs, read-only mounts, root).
    private static void ProbeFolder(string dir, string what)
    {
        string probe = TempName(dir);
        Pending[probe] = 0;
        try
        {
            using (new FileStream(probe, FileMode.CreateNew, FileAccess.Write)) { }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new Sjd2Exception($"cannot write into the folder '{dir}' of {what}: {OneLine(e.Message)}; choose another path.", e);
        }
        finally
        {
            TryDelete(probe);
            Pending.TryRemove(probe, out _);
        }
    }

    // Short and independent of the target's name, so a long but legal name never makes it too long.
    private static string TempName(string dir) => Path.Combine(dir, $".sjd2-{Guid.NewGuid():N}.tmp");

    private static void TryDelete(string path)
    {
        try { File.Delete(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    private static string OneLine(string message) => message.ReplaceLineEndings(" ").Trim();
}
