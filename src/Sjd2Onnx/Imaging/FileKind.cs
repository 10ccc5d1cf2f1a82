using System.Runtime.InteropServices;

namespace Sjd2Onnx.Imaging;

/// <summary>
/// The type of a file system entry as the operating system reports it: .NET has no public API that
/// tells a character device or a FIFO from a regular file, so on Unix this asks the runtime's own
/// native shim (the stat call every .NET file API uses).
/// </summary>
internal static class FileKind
{
    private const int TypeMask = 0xF000;

    /// <summary>What <paramref name="path"/> is, following symbolic links; null when it does not exist.</summary>
    public static string? Describe(string path)
    {
        if (Directory.Exists(path)) return "a folder";
        if (!File.Exists(path)) return null;
        if (OperatingSystem.IsWindows()) return "a regular file";
        int? mode = StatMode(path);
        return (mode & TypeMask) switch
        {
            null or 0x8000 => "a regular file",
            0x1000 => "a FIFO (named pipe)",
            0x2000 => "a character device",
            0x6000 => "a block device",
            0xC000 => "a socket",
            _ => "a special file",
        };
    }

    /// <summary>Whether <paramref name="path"/> exists and is a regular file (after following links).</summary>
    public static bool IsRegularFile(string path) => Describe(path) == "a regular file";

    private static int? StatMode(string path)
    {
        // FileStatus starts with int32 Flags, int32 Mode; the buffer is larger than the whole struct.
        var status = new byte[512];
        try
        {
            return Stat(path, status) == 0 ? BitConverter.ToInt32(status, 4) : null;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null; // unknown runtime layout: only the folder check above applies
        }
    }

    [DllImport("libSystem.Native", EntryPoint = "SystemNative_Stat")]
    private static extern int Stat([MarshalAs(UnmanagedType.LPUTF8Str)] string path, [Out] byte[] status);
}
