using System.Runtime.InteropServices;

namespace Sjd2Onnx.Model;

/// <summary>
/// Hands the native heap's free pages back to the operating system. Opening a graph makes
/// transient copies of its weights (the parsed protobuf, initializers rewritten by the layout
/// optimisations); ONNX Runtime frees them, but glibc keeps freed pages resident, so a GPT-B-size
/// model held about 270 MB more than it uses until the process ended.
/// </summary>
internal static class NativeHeap
{
    private static bool _unavailable = !OperatingSystem.IsLinux();

    /// <summary>Releases free heap pages where the C library can (glibc); elsewhere does nothing.</summary>
    public static void Trim()
    {
        if (_unavailable) return;
        try { _ = MallocTrim(0); }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            _unavailable = true; // musl and other C libraries have no malloc_trim
        }
    }

    // Blittable signature: no marshalling code to generate, so DllImport needs no unsafe blocks.
    [DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int MallocTrim(nuint pad);
}
