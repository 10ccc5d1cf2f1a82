using System.Diagnostics;
using Sjd2Onnx.Imaging;
using Sjd2Onnx.Tests.Support;

namespace Sjd2Onnx.Tests;

/// <summary>
/// <see cref="OutputFile"/>: special files are refused and never replaced, links are written
/// through, long names and unwritable folders end in one-line errors, nothing is left behind.
/// </summary>
public class OutputFileTests
{
    private static readonly byte[] Payload = [1, 2, 3, 4];

    [Fact]
    public void WritesAndReplacesRegularFilesAtomically()
    {
        using var temp = new TempDir();
        string path = temp.File("a.bin");
        OutputFile.WriteAllBytes(path, Payload);
        Assert.Equal(Payload, File.ReadAllBytes(path));
        File.WriteAllText(path, "old");
        OutputFile.WriteAllText(path, "new");
        Assert.Equal("new", File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFileSystemEntries(temp.Path));
    }

    [Fact]
    public void RefusesCharacterDevicesAndLeavesThemAlone()
    {
        if (OperatingSystem.IsWindows()) return;
        using var temp = new TempDir();
        string link = temp.File("null.png");
        File.CreateSymbolicLink(link, "/dev/null");
        foreach (var path in new[] { "/dev/null", link })
        {
            var e = Assert.Throws<Sjd2Exception>(() => OutputFile.WriteAllBytes(path, Payload, "--out"));
            Assert.Contains("character device", e.Message);
        }
        Assert.Equal("/dev/null", new FileInfo(link).LinkTarget);
        Assert.Equal("a character device", FileKind.Describe("/dev/null"));
        Assert.Equal([link], Directory.GetFileSystemEntries(temp.Path));
    }

    [Fact]
    public void RefusesFifosWithoutBlocking()
    {
        if (OperatingSystem.IsWindows()) return;
        using var temp = new TempDir();
        string fifo = temp.File("pipe.png");
        MakeFifo(fifo);
        var e = Assert.Throws<Sjd2Exception>(() => OutputFile.Check(fifo, "--out"));
        Assert.Contains("FIFO", e.Message);
        Assert.Equal("a FIFO (named pipe)", FileKind.Describe(fifo));
    }

    [Fact]
    public void RefusesFoldersAndPathsUnderFiles()
    {
        using var temp = new TempDir();
        Assert.Contains("folder", Assert.Throws<Sjd2Exception>(() => OutputFile.Check(temp.Path)).Message);
        File.WriteAllText(temp.File("file"), "x");
        Assert.Contains("is a file", Assert.Throws<Sjd2Exception>(() => OutputFile.Check(temp.File("file/a.png"))).Message);
        Assert.Contains("does not exist", Assert.Throws<Sjd2Exception>(() => OutputFile.Check(temp.File("no/a.png"))).Message);
        Assert.Contains("empty", Assert.Throws<Sjd2Exception>(() => OutputFile.Check(" ")).Message);
    }

    [Fact]
    public void WritesThroughASymlinkToItsRegularFileTarget()
    {
        using var temp = new TempDir();
        Directory.CreateDirectory(temp.File("real"));
        string target = temp.File("real/target.png"), link = temp.File("link.png");
        File.WriteAllText(target, "old");
        File.CreateSymbolicLink(link, target);
        OutputFile.WriteAllBytes(link, Payload);
        Assert.Equal(target, new FileInfo(link).LinkTarget);
        Assert.Equal(Payload, File.ReadAllBytes(target));
        Assert.Equal([target], Directory.GetFileSystemEntries(temp.File("real")));

        // A dangling link creates its target.
        string dangling = temp.File("dangling.png"), created = temp.File("real/created.png");
        File.CreateSymbolicLink(dangling, created);
        OutputFile.WriteAllBytes(dangling, Payload);
        Assert.Equal(Payload, File.ReadAllBytes(created));

        // A link loop is an error, not a hang.
        string a = temp.File("loop-a"), b = temp.File("loop-b");
        File.CreateSymbolicLink(a, b);
        File.CreateSymbolicLink(b, a);
        Assert.Throws<Sjd2Exception>(() => OutputFile.WriteAllBytes(a, Payload));
    }

    [Fact]
    public void LongButLegalNamesWorkAndTooLongNamesAreOneLineErrors()
    {
        using var temp = new TempDir();
        string legal = temp.File(new string('n', 251) + ".png"); // 255 bytes
        OutputFile.WriteAllBytes(legal, Payload);
        Assert.Equal(Payload, File.ReadAllBytes(legal));
        string tooLong = temp.File(new string('n', 252) + ".png");
        var e = Assert.Throws<Sjd2Exception>(() => OutputFile.WriteAllBytes(tooLong, Payload));
        Assert.Contains("256 bytes", e.Message);
        Assert.Equal([legal], Directory.GetFileSystemEntries(temp.Path));
    }

    [Fact]
    public void UnwritableFoldersFailTheCheck()
    {
        if (OperatingSystem.IsWindows()) return;
        // /proc refuses new files even for root; a chmod'ed folder would not stop root.
        var e = Assert.Throws<Sjd2Exception>(() => OutputFile.Check("/proc/sjd2-test.png", "--out"));
        Assert.Contains("cannot write into the folder", e.Message);
        Assert.Throws<Sjd2Exception>(() => OutputFile.CheckFolder("/proc/sjd2-trace/x", "--trace"));
        using var temp = new TempDir();
        OutputFile.CheckFolder(temp.File("new/deeper"), "--trace");
        Assert.False(Directory.Exists(temp.File("new")), "the check creates nothing");
    }

    [Fact]
    public void ReadOnlyFilesAreNotReplaced()
    {
        if (OperatingSystem.IsWindows()) return;
        using var temp = new TempDir();
        string path = temp.File("keep.png");
        File.WriteAllText(path, "keep");
        File.SetAttributes(path, FileAttributes.ReadOnly);
        if (!File.GetAttributes(path).HasFlag(FileAttributes.ReadOnly)) return; // root: the attribute is not reported
        Assert.Contains("read-only", Assert.Throws<Sjd2Exception>(() => OutputFile.WriteAllBytes(path, Payload)).Message);
        Assert.Equal("keep", File.ReadAllText(path));
    }

    internal static void MakeFifo(string path)
    {
        using var p = Process.Start(new ProcessStartInfo("mkfifo", [path]) { UseShellExecute = false })!;
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
    }
}
