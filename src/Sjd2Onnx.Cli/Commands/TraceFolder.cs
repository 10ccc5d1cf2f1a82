using System.Text.RegularExpressions;
using Sjd2Onnx.Imaging;

namespace Sjd2Onnx.Cli.Commands;

/// <summary>
/// The <c>--trace</c> folder: checked before any work, and emptied of an earlier trace so the
/// files in it always belong to one run. Files that no trace writes are never deleted: a folder
/// holding any is refused instead.
/// </summary>
internal static partial class TraceFolder
{
    /// <summary>Checks the folder is usable and removes the files of an earlier trace (none of anything else).</summary>
    public static void Prepare(string dir)
    {
        OutputFile.CheckFolder(dir, "--trace");
        if (!Directory.Exists(dir)) return;
        var stale = new List<string>();
        Collect(dir, stale, topLevel: true);
        foreach (var path in stale)
        {
            try
            {
                if (Directory.Exists(path)) Directory.Delete(path);
                else File.Delete(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new Sjd2Exception($"cannot remove the earlier trace file '{path}': {e.Message}; give a new --trace folder.", e);
            }
        }
    }

    // Files first, folders after their contents: the list is in deletion order.
    private static void Collect(string dir, List<string> stale, bool topLevel)
    {
        foreach (var entry in Directory.EnumerateFileSystemEntries(dir))
        {
            string name = Path.GetFileName(entry);
            bool isLink = new FileInfo(entry).LinkTarget is not null;
            if (topLevel && !isLink && Directory.Exists(entry) && ImageFolder().IsMatch(name))
            {
                Collect(entry, stale, topLevel: false);
                stale.Add(entry);
            }
            else if (!isLink && File.Exists(entry) && TraceFile().IsMatch(name))
                stale.Add(entry);
            else
                throw new Sjd2Exception($"--trace '{dir}' holds '{name}', which no trace writes; give an empty or new folder (earlier traces are replaced, other files are never deleted).");
        }
    }

    [GeneratedRegex(@"^(commit-pass\.png|passes\.png|trace\.json|pass-\d{3,}\.png|\.sjd2-[0-9a-f]{32}\.tmp)$")]
    private static partial Regex TraceFile();

    [GeneratedRegex(@"^image-\d+$")]
    private static partial Regex ImageFolder();
}
