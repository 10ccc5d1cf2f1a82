using Microsoft.ML.OnnxRuntime;

namespace Sjd2Onnx.Model;

/// <summary>Creates ONNX Runtime sessions on the chosen execution provider and explains providers that fail to load.</summary>
internal static class SessionFactory
{
    /// <summary>Whether a provider loads and runs here, and if not, why (one line: cause and fix).</summary>
    public sealed record ProbeResult(ExecutionProvider Provider, bool Loads, string? Reason);

    /// <summary>Provider names the loaded native ONNX Runtime library lists (listed is not the same as loadable: see <see cref="Probe"/>).</summary>
    public static string[] AvailableProviders() => OnnxRuntimeEnvironment.Get().GetAvailableProviders();

    /// <summary>
    /// Session options for <paramref name="provider"/>: threads, log routing and provider options.
    /// Throws <see cref="ProviderUnavailableException"/> when the provider cannot be appended.
    /// </summary>
    public static SessionOptions CreateOptions(ExecutionProvider provider, PipelineOptions settings, string logId)
    {
        OnnxRuntimeEnvironment.Get();
        var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            IntraOpNumThreads = settings.IntraOpThreads,
            LogId = logId,
            LogSeverityLevel = OnnxRuntimeEnvironment.ToOrt(settings.OnnxRuntimeLog is null ? OnnxRuntimeLogLevel.Warning : settings.OnnxRuntimeLogLevel),
        };
        using var capture = OnnxRuntimeEnvironment.CaptureOnThisThread(out var log);
        try
        {
            switch (provider)
            {
                case ExecutionProvider.Cuda: AppendCuda(options, settings); break;
                case ExecutionProvider.DirectML:
                    // The DirectML provider supports neither memory patterns nor parallel execution.
                    options.EnableMemoryPattern = false;
                    options.ExecutionMode = ExecutionMode.ORT_SEQUENTIAL;
                    options.AppendExecutionProvider_DML(settings.DeviceId);
                    break;
            }
        }
        catch (Exception e) when (e is EntryPointNotFoundException or OnnxRuntimeException or DllNotFoundException)
        {
            options.Dispose();
            throw new ProviderUnavailableException(provider, ProviderDiagnosis.Explain(provider, e, log, settings.DeviceId), e);
        }
        catch
        {
            options.Dispose();
            throw;
        }
        return options;
    }

    /// <summary>The CUDA provider options sent to ONNX Runtime (device, memory limit, arena strategy, pass-through ones).</summary>
    internal static Dictionary<string, string> CudaOptions(PipelineOptions settings)
    {
        var values = new Dictionary<string, string>(settings.CudaProviderOptions)
        {
            ["device_id"] = settings.DeviceId.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["use_tf32"] = settings.Tf32 ? "1" : "0",   // ONNX Runtime turns TF32 on unless told
        };
        if (settings.GpuMemoryLimitBytes is long limit)
            values["gpu_mem_limit"] = limit.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (settings.GpuArenaStrategy is { } strategy)
            values["arena_extend_strategy"] = strategy == GpuArenaStrategy.SameAsRequested ? "kSameAsRequested" : "kNextPowerOfTwo";
        return values;
    }

    private static void AppendCuda(SessionOptions options, PipelineOptions settings)
    {
        using var cuda = new OrtCUDAProviderOptions();
        try { cuda.UpdateOptions(CudaOptions(settings)); }
        catch (OnnxRuntimeException e) when (!ProviderDiagnosis.IsProviderFailure(ExecutionProvider.Cuda, e, []))
        {
            throw new Sjd2Exception($"the CUDA provider refused its options: {ProviderDiagnosis.FirstLine(e.Message)}; check the option names and values in CudaProviderOptions.", e);
        }
        options.AppendExecutionProvider_CUDA(cuda);
    }

    /// <summary>Opens one graph; a provider failure (driver, device) is told apart from a broken graph.</summary>
    public static InferenceSession Open(string path, SessionOptions options, string what, ExecutionProvider provider, int deviceId)
    {
        using var capture = OnnxRuntimeEnvironment.CaptureOnThisThread(out var log);
        try { return new InferenceSession(path, options); }
        catch (OnnxRuntimeException e)
        {
            if (ProviderDiagnosis.IsProviderFailure(provider, e, log))
                throw new ProviderUnavailableException(provider, ProviderDiagnosis.Explain(provider, e, log, deviceId), e);
            throw new Sjd2Exception($"cannot load the {what} graph '{Path.GetFileName(path)}': {ProviderDiagnosis.FirstLine(e.Message)}; re-export the model.", e);
        }
    }

    /// <summary>
    /// Tries <paramref name="provider"/> for real: creates a session of a tiny in-memory graph on it and
    /// runs it once. Listing (<see cref="AvailableProviders"/>) only says the build knows the provider;
    /// this says whether its libraries, driver and device are there.
    /// </summary>
    public static ProbeResult Probe(ExecutionProvider provider, PipelineOptions settings)
    {
        using var capture = OnnxRuntimeEnvironment.CaptureOnThisThread(out var log);
        try
        {
            using var options = CreateOptions(provider, settings with { IntraOpThreads = 1 }, OnnxRuntimeEnvironment.NewSessionLogId());
            using var session = new InferenceSession(ProbeGraph.Build(), options);
            float[] x = [1, 2, 3, 4];
            using var input = OrtValue.CreateTensorValueFromMemory(x, [ProbeGraph.Length]);
            using var runOptions = new RunOptions();
            using var outputs = session.Run(runOptions, [ProbeGraph.Input], [input], [ProbeGraph.Output]);
            var y = outputs[0].GetTensorDataAsSpan<float>();
            bool right = y.Length == x.Length && y[3] == 8;
            return new(provider, right, right ? null : $"{ProviderDiagnosis.Name(provider)} provider loads but computes wrong results (4 + 4 gave {y[3]})");
        }
        catch (ProviderUnavailableException e) { return new(provider, false, e.Cause); }
        catch (Exception e) when (e is OnnxRuntimeException or EntryPointNotFoundException or DllNotFoundException)
        {
            return new(provider, false, ProviderDiagnosis.Explain(provider, e, log, settings.DeviceId));
        }
    }
}
