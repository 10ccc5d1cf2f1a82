using Microsoft.ML.OnnxRuntime;

namespace Sjd2Onnx.Model;

/// <summary>Creates ONNX Runtime sessions on the chosen execution provider.</summary>
internal static class SessionFactory
{
    /// <summary>Provider names the loaded native ONNX Runtime library offers.</summary>
    public static string[] AvailableProviders()
    {
        try { return OrtEnv.Instance().GetAvailableProviders(); }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException)
        {
            throw new Sjd2Exception("the ONNX Runtime native library is missing; reference Microsoft.ML.OnnxRuntime (CPU), .Gpu (CUDA) or .DirectML in the application.", e);
        }
    }

    public static SessionOptions CreateOptions(ExecutionProvider provider, int deviceId)
    {
        var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        try
        {
            switch (provider)
            {
                case ExecutionProvider.Cuda: options.AppendExecutionProvider_CUDA(deviceId); break;
                case ExecutionProvider.DirectML: options.AppendExecutionProvider_DML(deviceId); break;
            }
        }
        catch (Exception e) when (e is EntryPointNotFoundException or OnnxRuntimeException or DllNotFoundException)
        {
            options.Dispose();
            string package = provider == ExecutionProvider.Cuda ? "Microsoft.ML.OnnxRuntime.Gpu" : "Microsoft.ML.OnnxRuntime.DirectML";
            string flavor = provider == ExecutionProvider.Cuda ? "Cuda" : "DirectML";
            throw new Sjd2Exception(
                $"execution provider '{provider}' is not available in this ONNX Runtime build; install {package} instead of the CPU package (for sjd2: dotnet build -p:OnnxRuntimeFlavor={flavor}).", e);
        }
        return options;
    }

    public static InferenceSession Open(string path, SessionOptions options, string what)
    {
        try { return new InferenceSession(path, options); }
        catch (OnnxRuntimeException e)
        {
            throw new Sjd2Exception($"cannot load the {what} graph '{Path.GetFileName(path)}': {FirstLine(e.Message)}; re-export the model.", e);
        }
    }

    private static string FirstLine(string s)
    {
        int i = s.IndexOfAny(['\r', '\n']);
        return i < 0 ? s : s[..i];
    }
}
