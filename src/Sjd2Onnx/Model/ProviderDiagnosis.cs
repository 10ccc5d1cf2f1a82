using System.Text.RegularExpressions;

namespace Sjd2Onnx.Model;

/// <summary>
/// Turns an execution provider that fails to load (its exception and the errors ONNX Runtime logged
/// meanwhile) into one line naming the cause and what provides the missing piece.
/// </summary>
internal static partial class ProviderDiagnosis
{
    /// <summary>The provider's name as users write it.</summary>
    public static string Name(ExecutionProvider provider) => provider switch
    {
        ExecutionProvider.Cuda => "CUDA",
        ExecutionProvider.DirectML => "DirectML",
        _ => "CPU",
    };

    /// <summary>The native package that carries the provider.</summary>
    public static string Package(ExecutionProvider provider) => provider switch
    {
        ExecutionProvider.Cuda => "Microsoft.ML.OnnxRuntime.Gpu",
        ExecutionProvider.DirectML => "Microsoft.ML.OnnxRuntime.DirectML",
        _ => "Microsoft.ML.OnnxRuntime",
    };

    /// <summary>True when the failure is the provider's (library, driver, device) rather than the graph's.</summary>
    public static bool IsProviderFailure(ExecutionProvider provider, Exception e, IReadOnlyList<string> log) =>
        provider != ExecutionProvider.Cpu && Cause(provider, e, log, deviceId: 0) is not null;

    /// <summary>One line, no trailing period: "CUDA provider unavailable: cause; fix".</summary>
    public static string Describe(ExecutionProvider provider, Exception e, IReadOnlyList<string> log, int deviceId) =>
        $"{Name(provider)} provider unavailable: {Explain(provider, e, log, deviceId)}";

    /// <summary>The cause and the fix without the provider's name; the last error line when the cause is not recognised.</summary>
    public static string Explain(ExecutionProvider provider, Exception e, IReadOnlyList<string> log, int deviceId) =>
        Cause(provider, e, log, deviceId) ?? FirstLine(LastError(e, log));

    private static string? Cause(ExecutionProvider provider, Exception e, IReadOnlyList<string> log, int deviceId)
    {
        string text = string.Join("\n", log.Append(e.Message).Append(e.InnerException?.Message ?? ""));
        string flavor = provider == ExecutionProvider.Cuda ? "Cuda" : "DirectML";
        if (e is EntryPointNotFoundException || text.Contains("not enabled in this build", StringComparison.OrdinalIgnoreCase)
            || text.Contains("is not supported in this build", StringComparison.OrdinalIgnoreCase))
            return $"this ONNX Runtime build has no {Name(provider)} provider; ship {Package(provider)} as the application's native ONNX Runtime package (for sjd2: dotnet build -p:OnnxRuntimeFlavor={flavor})";

        if (SharedObjectMissing().Match(text) is { Success: true } so)
            return MissingLibrary(so.Groups["lib"].Value);
        if (text.Contains("LoadLibrary failed", StringComparison.OrdinalIgnoreCase) && provider == ExecutionProvider.Cuda)
            return "a DLL that onnxruntime_providers_cuda.dll needs is missing; install the CUDA 13 runtime and cuDNN 9 and put their bin folders on PATH";
        if (provider == ExecutionProvider.DirectML && (e is DllNotFoundException || text.Contains("DirectML.dll", StringComparison.OrdinalIgnoreCase)))
            return "DirectML.dll cannot be loaded; DirectML needs Windows 10 1903 or later with a DirectX 12 GPU, and the Microsoft.ML.OnnxRuntime.DirectML package";

        if (Has(text, "no CUDA-capable device", "cudaErrorNoDevice", "CUDA failure 100"))
            return "no CUDA GPU is visible; check the NVIDIA driver (nvidia-smi) and CUDA_VISIBLE_DEVICES";
        if (Has(text, "invalid device ordinal", "cudaErrorInvalidDevice", "CUDA failure 101"))
            return $"there is no CUDA GPU {deviceId}; pass a device id that nvidia-smi lists";
        if (Has(text, "driver version is insufficient", "cudaErrorInsufficientDriver", "CUDA failure 35"))
            return "the NVIDIA driver is older than CUDA 13 needs; update the driver";
        if (Has(text, "out of memory", "cudaErrorMemoryAllocation", "CUDA failure 2:"))
            return "the GPU ran out of memory while loading the model; free GPU memory, raise the GPU memory limit or use a smaller (fp16) export";
        return null;
    }

    // Linux: which shared object the loader could not find, and which install provides it.
    private static string MissingLibrary(string lib)
    {
        string Where(string what) => $"{lib} is missing; it comes with {what} — install it and put its libraries on LD_LIBRARY_PATH (the CUDA provider needs the CUDA 13 runtime and cuDNN 9)";
        if (lib.StartsWith("libcudnn", StringComparison.Ordinal)) return Where("cuDNN 9 for CUDA 13");
        if (lib.StartsWith("libcuda.so", StringComparison.Ordinal))
            return $"{lib} is missing; it comes with the NVIDIA driver — install the driver (nvidia-smi must work) or, in a container, expose the GPU to it";
        if (lib.StartsWith("libonnxruntime_providers", StringComparison.Ordinal))
            return $"{lib} is missing next to libonnxruntime; ship Microsoft.ML.OnnxRuntime.Gpu whole (for sjd2: dotnet build -p:OnnxRuntimeFlavor=Cuda)";
        if (lib.StartsWith("libnvinfer", StringComparison.Ordinal)) return Where("TensorRT 10");
        string[] cudaRuntime = ["libcublas", "libcudart", "libcufft", "libcurand", "libnvrtc", "libnvJitLink", "libnvblas", "libcusparse"];
        if (cudaRuntime.Any(p => lib.StartsWith(p, StringComparison.Ordinal)))
            return Where($"the CUDA 13 runtime ({CudaComponent(lib)})");
        return $"{lib} is missing; install the library that provides it (the CUDA provider needs the CUDA 13 runtime and cuDNN 9 on LD_LIBRARY_PATH)";
    }

    private static string CudaComponent(string lib) => lib switch
    {
        _ when lib.StartsWith("libcublas", StringComparison.Ordinal) => "cuBLAS",
        _ when lib.StartsWith("libcudart", StringComparison.Ordinal) => "CUDA runtime",
        _ when lib.StartsWith("libcufft", StringComparison.Ordinal) => "cuFFT",
        _ when lib.StartsWith("libcurand", StringComparison.Ordinal) => "cuRAND",
        _ when lib.StartsWith("libcusparse", StringComparison.Ordinal) => "cuSPARSE",
        _ => "NVRTC",
    };

    private static bool Has(string text, params string[] needles) =>
        needles.Any(n => text.Contains(n, StringComparison.OrdinalIgnoreCase));

    private static string LastError(Exception e, IReadOnlyList<string> log) => log.Count > 0 ? log[^1] : e.Message;

    internal static string FirstLine(string s)
    {
        s = s.Trim();
        int i = s.IndexOfAny(['\r', '\n']);
        return i < 0 ? s : s[..i];
    }

    // "...with error: libcublasLt.so.13: cannot open shared object file: No such file or directory"
    [GeneratedRegex(@"(?<lib>[A-Za-z0-9_+\-.]+\.so(\.[0-9]+)*): cannot open shared object file")]
    private static partial Regex SharedObjectMissing();
}
