namespace Sjd2Onnx;

/// <summary>How a model folder is opened: execution provider, threads, device memory, ONNX Runtime's log.</summary>
public sealed record PipelineOptions
{
    /// <summary>Largest <see cref="IntraOpThreads"/> accepted: far above any machine, low enough to catch a typo.</summary>
    public const int MaxIntraOpThreads = 1024;

    /// <summary>The most <see cref="IntraOpThreads"/> on this machine: the logical processors this process may use.</summary>
    internal static int MaxThreadsHere => Math.Min(MaxIntraOpThreads, Environment.ProcessorCount);

    /// <summary>Execution provider for every graph (the first one tried).</summary>
    public ExecutionProvider Provider { get; init; } = ExecutionProvider.Cpu;

    /// <summary>
    /// Providers tried in order when <see cref="Provider"/> cannot be loaded (its native package or
    /// its libraries are missing, or no device answers), e.g. <c>[Cpu]</c> after CUDA.
    /// <see cref="Sjd2Pipeline.Provider"/> tells which one the pipeline ended on. Empty: no fallback.
    /// </summary>
    public IReadOnlyList<ExecutionProvider> FallbackProviders { get; init; } = [];

    /// <summary>GPU index for CUDA or DirectML.</summary>
    public int DeviceId { get; init; }

    /// <summary>
    /// Threads ONNX Runtime uses inside one operator, per graph. 0 (the default) chooses per graph from
    /// the model's size on the CPU provider: small transformers (under 64 MB of weights, like the
    /// default model) run every graph on the calling thread, where a worker woken for each small kernel
    /// costs more than it saves; larger ones give the transformer and the VQ decoder every logical
    /// processor on machines of up to 8 (ONNX Runtime's one per physical core beyond). The text
    /// embedding graph gets them too when it is that large itself (a text encoder such as LlamaGen's
    /// T5); the image embedding, a table lookup, always runs on the calling thread. Other providers
    /// keep ONNX Runtime's default. 1 runs every graph on the calling thread. At most
    /// the number of logical processors this process may use (<see cref="Environment.ProcessorCount"/>).
    /// </summary>
    public int IntraOpThreads { get; init; }

    /// <summary>
    /// Most device memory the CUDA provider's arena may hold, in bytes (CUDA's <c>gpu_mem_limit</c>).
    /// Null: no limit. KV caches and activations beyond it fail the pass instead of taking the whole GPU.
    /// </summary>
    public long? GpuMemoryLimitBytes { get; init; }

    /// <summary>How the CUDA provider's arena grows (CUDA's <c>arena_extend_strategy</c>). Null: ONNX Runtime's default.</summary>
    public GpuArenaStrategy? GpuArenaStrategy { get; init; }

    /// <summary>
    /// Lets the CUDA provider compute float32 matrix products in TF32 (10-bit mantissa) on GPUs that
    /// have it: faster, but logits drift past the float32 parity tolerance. Off by default, which
    /// ONNX Runtime's own default is not.
    /// </summary>
    public bool Tf32 { get; init; }

    /// <summary>
    /// Further CUDA provider options passed through as they are (for example <c>cudnn_conv_algo_search</c>
    /// or <c>use_tf32</c>; ONNX Runtime's CUDA provider documentation lists them). Use the typed
    /// properties for the memory limit and the arena strategy.
    /// </summary>
    public IReadOnlyDictionary<string, string> CudaProviderOptions { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// Receives ONNX Runtime's own log messages (plain text, one message per call, no colour codes) for
    /// this pipeline's sessions and for process-wide messages such as provider library loads. Null
    /// (the default): they are dropped, and nothing of ONNX Runtime's reaches stderr. ONNX Runtime's
    /// environment is one per process: if the application created it before Sjd2Onnx did, its own
    /// logging settings stay in force.
    /// </summary>
    public Action<string>? OnnxRuntimeLog { get; init; }

    /// <summary>Least severe message passed to <see cref="OnnxRuntimeLog"/>.</summary>
    public OnnxRuntimeLogLevel OnnxRuntimeLogLevel { get; init; } = OnnxRuntimeLogLevel.Warning;

    /// <summary>
    /// Whether the provider reduces each pass's logits to their top k (CFG, temperature and top-k
    /// in a small graph) so that only k values and codes per position cross back, for generations
    /// sampled with top-k and without top-p; the distributions are the host sampler's, float for
    /// float. Null (the default): on CUDA, where reading back every logit costs a device-to-host
    /// copy a pass; off on the CPU, whose logits are already in host memory.
    /// </summary>
    public bool? SampleOnDevice { get; init; }

    /// <summary>
    /// Tests: on the CPU provider, run the device path (KV cache helper graphs, bound inputs copied
    /// into separate buffers at bind time) so that CUDA's transfer semantics are checked without a GPU.
    /// </summary>
    internal bool EmulateDeviceTransfers { get; init; }

    /// <summary>The providers to try, in order, without repeats.</summary>
    internal IReadOnlyList<ExecutionProvider> ProvidersInOrder() => [.. new[] { Provider }.Concat(FallbackProviders).Distinct()];

    /// <summary>Checks every option; one-line <see cref="Sjd2Exception"/> naming the option and the fix.</summary>
    internal void Validate()
    {
        if (FallbackProviders is null) throw new Sjd2Exception("FallbackProviders is null; use an empty list for no fallback.");
        foreach (var p in ProvidersInOrder())
            if (!Enum.IsDefined(p)) throw new Sjd2Exception($"unknown execution provider {p}; use Cpu, Cuda or DirectML.");
        if (DeviceId < 0) throw new Sjd2Exception($"device id must be 0 or more, got {DeviceId}.");
        if (IntraOpThreads < 0 || IntraOpThreads > MaxIntraOpThreads)
            throw SettingError.For("threads", $"threads must be between 0 (chosen by the model's size) and {MaxThreadsHere}, got {IntraOpThreads}.");
        if (IntraOpThreads > MaxThreadsHere)
            throw SettingError.For("threads", $"threads must be at most {MaxThreadsHere}, the processors this process may use, got {IntraOpThreads}: more threads than processors wait for each other and slow every pass.");
        if (!Enum.IsDefined(OnnxRuntimeLogLevel)) throw new Sjd2Exception($"unknown ONNX Runtime log level {OnnxRuntimeLogLevel}.");

        bool cuda = ProvidersInOrder().Contains(ExecutionProvider.Cuda);
        if (GpuMemoryLimitBytes is long limit)
        {
            if (limit <= 0) throw new Sjd2Exception($"the GPU memory limit must be a positive number of bytes, got {limit}; leave it unset for no limit.");
            if (!cuda) throw new Sjd2Exception("a GPU memory limit applies to the CUDA provider; add Cuda to the providers or leave the limit unset.");
        }
        if (GpuArenaStrategy is { } strategy)
        {
            if (!Enum.IsDefined(strategy)) throw new Sjd2Exception($"unknown GPU arena strategy {strategy}; use NextPowerOfTwo or SameAsRequested.");
            if (!cuda) throw new Sjd2Exception("a GPU arena strategy applies to the CUDA provider; add Cuda to the providers or leave it unset.");
        }
        if (Tf32 && !cuda) throw new Sjd2Exception("TF32 applies to the CUDA provider; add Cuda to the providers or leave TF32 off.");
        if (CudaProviderOptions is null) throw new Sjd2Exception("CudaProviderOptions is null; use an empty dictionary for none.");
        if (CudaProviderOptions.Count > 0 && !cuda)
            throw new Sjd2Exception("CUDA provider options apply to the CUDA provider; add Cuda to the providers or pass no options.");
        foreach (var (key, value) in CudaProviderOptions)
        {
            if (string.IsNullOrWhiteSpace(key) || string.IsNullOrWhiteSpace(value))
                throw new Sjd2Exception($"CUDA provider option '{key}' needs a non-empty name and value.");
            if (key is "device_id" or "gpu_mem_limit" or "arena_extend_strategy" or "use_tf32")
                throw new Sjd2Exception($"CUDA provider option '{key}' is set through {TypedPropertyFor(key)}; remove it from CudaProviderOptions.");
        }
    }

    private static string TypedPropertyFor(string key) => key switch
    {
        "device_id" => nameof(DeviceId),
        "gpu_mem_limit" => nameof(GpuMemoryLimitBytes),
        "use_tf32" => nameof(Tf32),
        _ => nameof(GpuArenaStrategy),
    };
}
