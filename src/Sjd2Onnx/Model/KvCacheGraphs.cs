using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Sjd2Onnx.Model;

/// <summary>
/// The helper graphs of a contract-2 KV cache (<see cref="KvCacheGraphDefinitions"/>), opened on the
/// transformer's provider, and the pool of caches that share them.
/// </summary>
internal sealed class KvCacheGraphs : IDisposable
{
    private readonly InferenceSession? _prepare, _zeros, _restride;   // not opened when the caches write on the host
    private readonly OrtAllocator? _ownedAllocator;
    private readonly List<DeviceKvCache> _free = [];
    private bool _disposed;

    private KvCacheGraphs(InferenceSession? prepare, InferenceSession? zeros, InferenceSession? restride,
        int tensors, TensorElementType type, OrtMemoryInfo memory, OrtAllocator allocator, OrtAllocator? owned, bool writesOnHost,
        HostInputTransfer transfer)
    {
        Transfer = transfer;
        _prepare = prepare; _zeros = zeros; _restride = restride;
        Tensors = tensors; ElementType = type; Memory = memory; Allocator = allocator; _ownedAllocator = owned;
        WritesOnHost = writesOnHost;
    }

    /// <summary>
    /// The caches live in host memory as floats and write their commits, masks and stride moves
    /// there, instead of running the graphs (a session run costs more than those copies on the CPU).
    /// </summary>
    public bool WritesOnHost { get; }

    /// <summary>How host inputs bound to these graphs and to the transformer reach the provider.</summary>
    public HostInputTransfer Transfer { get; }

    /// <summary>
    /// The cache is in host memory while the provider copies bound inputs (DirectML): its views are
    /// host inputs, bound again before every run.
    /// </summary>
    public bool CacheIsHostInput => Transfer == HostInputTransfer.CopiedAtBind && ReferenceEquals(Memory, OrtMemoryInfo.DefaultInstance);

    /// <summary>KV tensors of the model (2 per layer).</summary>
    public int Tensors { get; }

    /// <summary>Element type of the cache (the transformer's past inputs).</summary>
    public TensorElementType ElementType { get; }

    /// <summary>Bytes per cache element.</summary>
    public int ElementSize => ElementType == TensorElementType.Float16 ? 2 : 4;

    /// <summary>Where the cache lives: the provider's device memory (host memory on the CPU provider).</summary>
    public OrtMemoryInfo Memory { get; }

    /// <summary>Allocates the cache's buffers in <see cref="Memory"/>.</summary>
    public OrtAllocator Allocator { get; }

    /// <summary>
    /// Builds the graphs for <paramref name="tensors"/> KV tensors of <paramref name="type"/> and opens
    /// them with <paramref name="options"/>. <paramref name="transfer"/>
    /// <see cref="HostInputTransfer.EmulatedCopy"/> keeps the graphs in use on the CPU, the cache
    /// standing for device memory (tests of the device path); null: the provider's own.
    /// </summary>
    public static KvCacheGraphs Open(SessionOptions options, ExecutionProvider provider, int deviceId, int tensors, TensorElementType type,
        HostInputTransfer? transfer = null)
    {
        var inputs = transfer ?? TransferOf(provider);
        OnnxRuntimeEnvironment.Get();   // the engine's environment (log routing) before any session
        var opened = new List<InferenceSession>();
        OrtMemoryInfo? memory = null;
        OrtAllocator? owned = null;
        try
        {
            InferenceSession Load(byte[] model)
            {
                var s = new InferenceSession(model, options);
                opened.Add(s);
                return s;
            }
            // Host memory of floats: the caches write there themselves, and the graphs are not opened.
            bool onHost = inputs != HostInputTransfer.EmulatedCopy && provider != ExecutionProvider.Cuda && type == TensorElementType.Float;
            var prepare = onHost ? null : Load(KvCacheGraphDefinitions.Prepare(type));
            var zeros = onHost ? null : Load(KvCacheGraphDefinitions.Zeros(type));
            var restride = onHost ? null : Load(KvCacheGraphDefinitions.Restride(type));
            OrtAllocator allocator;
            if (provider == ExecutionProvider.Cuda)
            {
                memory = new OrtMemoryInfo(OrtMemoryInfo.allocatorCUDA, OrtAllocatorType.DeviceAllocator, deviceId, OrtMemType.Default);
                allocator = owned = new OrtAllocator(prepare!, memory);
            }
            else
            {
                // CPU: device memory is host memory. DirectML: its allocations are not plain device
                // pointers ONNX Runtime's C# API can view, so the cache stays in host memory there.
                memory = OrtMemoryInfo.DefaultInstance;
                allocator = OrtAllocator.DefaultInstance;
            }
            return new KvCacheGraphs(prepare, zeros, restride, tensors, type, memory, allocator, owned, onHost, inputs);
        }
        catch
        {
            owned?.Dispose();
            if (memory is not null && !ReferenceEquals(memory, OrtMemoryInfo.DefaultInstance)) memory.Dispose();
            foreach (var s in opened) s.Dispose();
            throw;
        }
    }

    /// <summary>
    /// An empty cache for a generation: a pooled one whose buffers are large enough (its views come
    /// with it) or a new one. Give it back with <see cref="ReturnCache"/>.
    /// </summary>
    public DeviceKvCache RentCache(int batch, int heads, int headDim, int capacity, int maxWindow, int strideStep)
    {
        DeviceKvCache? cache = null;
        lock (_free)
        {
            foreach (var c in _free)
                if (c.Batch == batch && c.CapacityLimit >= capacity && c.WindowLimit >= maxWindow
                    && (cache is null || c.CapacityLimit < cache.CapacityLimit)) cache = c;
            if (cache is not null) _free.Remove(cache);
        }
        // A little headroom, so that prompts a few tokens longer reuse the same buffers.
        int limit = capacity + capacity / 8;
        cache ??= WritesOnHost
            ? new HostWrittenKvCache(this, batch, heads, headDim, limit, maxWindow)
            : new GraphKvCache(this, batch, heads, headDim, limit, maxWindow);
        try { cache.Reset(capacity, strideStep); }
        catch
        {
            cache.Free();
            throw;
        }
        return cache;
    }

    /// <summary>Takes a cache back for reuse (at most <see cref="PoolSize"/> are kept; the rest are freed); disposing a cache calls it.</summary>
    public void ReturnCache(DeviceKvCache cache)
    {
        lock (_free)
        {
            if (!_disposed && _free.Count < PoolSize)
            {
                _free.Add(cache);
                return;
            }
        }
        cache.Free();
    }

    /// <summary>Caches kept for reuse: enough for a few concurrent generations.</summary>
    public const int PoolSize = 4;

    /// <summary>A binding for the prepare graph (one per cache: its inputs stay bound between passes where the provider reads them in place).</summary>
    public DeviceBinding CreatePrepareBinding() => new(Graph(_prepare), Transfer);

    /// <summary>Runs the prepare graph over <paramref name="binding"/>.</summary>
    public void Prepare(DeviceBinding binding, RunOptions runOptions) => binding.Run(Graph(_prepare), runOptions);

    /// <summary>Fills <paramref name="target"/> (a cache view) with zeros.</summary>
    public void Zero(OrtValue target, RunOptions runOptions)
    {
        long[] shape = target.GetTensorTypeAndShape().Shape;
        using var shapeValue = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, shape.AsMemory(), [shape.Length]);
        var zeros = Graph(_zeros);
        using var binding = zeros.CreateIoBinding();
        binding.BindInput("shape", shapeValue);
        binding.BindOutput("zeros", target);
        zeros.RunWithBinding(runOptions, binding);
    }

    /// <summary>Copies <paramref name="source"/> [T,B,H,S,Dh] into <paramref name="target"/> [T,B,H,S + extra,Dh], the new rows zero.</summary>
    public void Restride(OrtValue source, OrtValue target, long extraRows, RunOptions runOptions)
    {
        long[] pads = [0, 0, 0, 0, 0, 0, 0, 0, extraRows, 0];
        using var padsValue = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, pads.AsMemory(), [10]);
        var restride = Graph(_restride);
        using var binding = restride.CreateIoBinding();
        binding.BindInput("x", source);
        binding.BindInput("pads", padsValue);
        binding.BindOutput("y", target);
        restride.RunWithBinding(runOptions, binding);
    }

    /// <summary>How <paramref name="provider"/> takes bound host inputs: the CPU reads them in place, devices copy them when bound.</summary>
    public static HostInputTransfer TransferOf(ExecutionProvider provider) =>
        provider == ExecutionProvider.Cpu ? HostInputTransfer.ReadInPlace : HostInputTransfer.CopiedAtBind;

    private static InferenceSession Graph(InferenceSession? session) =>
        session ?? throw new InvalidOperationException("this cache writes on the host: its graphs were not opened");

    public void Dispose()
    {
        lock (_free)
        {
            _disposed = true;
            foreach (var c in _free) c.Free();
            _free.Clear();
        }
        _prepare?.Dispose();
        _zeros?.Dispose();
        _restride?.Dispose();
        _ownedAllocator?.Dispose();
        if (!ReferenceEquals(Memory, OrtMemoryInfo.DefaultInstance)) Memory.Dispose();
    }
}
