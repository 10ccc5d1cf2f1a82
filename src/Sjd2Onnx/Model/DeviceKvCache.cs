using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Sjd2Onnx.Model;

/// <summary>
/// A contract-2 KV cache in the execution provider's memory (<see cref="KvCacheLayout"/>), rented
/// from <see cref="KvCacheGraphs"/> (disposing it gives it back).
/// </summary>
internal abstract class DeviceKvCache : IKvCache
{
    // The transformer reads each tensor's block as its past (a view) and writes its new rows into a
    // second buffer; a commit is queued and written into the cache before the next pass, with that
    // pass's mask, and the stride grows in steps as the cache fills. Subclasses do that writing on
    // the host (HostWrittenKvCache) or by helper graphs (GraphKvCache).
    private int _capacity, _strideStep;
    private int _targetStride;          // the stride after the growth Grow asked for, applied by the next Prepare
    private static int s_versions;
    private DevicePassBinding? _pass;   // the transformer's binding, for one rental
    private bool _rented;
    private readonly bool _restridesInPlace;

    /// <summary>
    /// Allocates the buffers for up to <paramref name="capacity"/> tokens and windows of up to <paramref name="maxWindow"/>:
    /// one cache buffer when <paramref name="restridesInPlace"/> (<see cref="Restride"/> widens the cache within
    /// its own buffer, blocks moved back to front), else two.
    /// </summary>
    protected DeviceKvCache(KvCacheGraphs graphs, int batch, int heads, int headDim, int capacity, int maxWindow,
        Func<KvCacheGraphs, long, long, bool, KvCacheBuffer> allocate, bool restridesInPlace = false)
    {
        _restridesInPlace = restridesInPlace;
        Graphs = graphs;
        Batch = batch; Heads = heads; HeadDim = headDim;
        CapacityLimit = capacity; WindowLimit = maxWindow;
        KeptIds = new long[maxWindow];
        Padding = new long[batch];
        try { Layout = new KvCacheLayout(graphs, batch, heads, headDim, capacity, maxWindow, allocate, restridesInPlace ? 1 : 2); }
        catch
        {
            HelperRunOptions.Dispose();
            throw;
        }
    }

    protected KvCacheGraphs Graphs { get; }
    protected KvCacheLayout Layout { get; }
    protected int Heads { get; }
    protected int HeadDim { get; }
    protected long[] Padding { get; }                       // left padding of each batch row
    protected long[] KeptIds { get; }                       // the queued commit's window rows
    protected int Queued { get; set; }                      // rows of the queued commit (0: none)
    protected int QueuedWindow { get; private set; }        // the window they were kept from
    protected int QueuedLength { get; private set; }        // cache row of the first of them
    protected int Current { get; private set; }             // the layout's cache buffer in use
    protected RunOptions HelperRunOptions { get; } = new(); // helper runs finish once begun: a cancelled commit would tear the cache

    /// <summary>Batch rows the buffers were made for.</summary>
    public int Batch { get; }

    /// <summary>Most tokens the buffers hold.</summary>
    public int CapacityLimit { get; }

    /// <summary>Longest window the new-rows buffer holds.</summary>
    public int WindowLimit { get; }

    /// <summary>Cache rows per (tensor, batch row, head) block: the past a pass reads, filled rows first.</summary>
    public int Stride { get; private set; }

    /// <summary>Changes whenever the views from <see cref="Past"/> are replaced (a reset or a stride move).</summary>
    public int CacheVersion { get; private set; }

    /// <summary>Host bytes the last <see cref="Prepare"/> bound for its commit (kept indices and scatter positions).</summary>
    public long LastCommitBytes { get; protected set; }

    public abstract TimeSpan HostTime { get; }

    // The mask's few integers and the last commit's indices: the cache itself never crosses.
    public long LastBoundBytes => (3 + Batch) * sizeof(long) + LastCommitBytes;
    public long LastReadBackBytes => 0;
    public long LastKvBytes => 0;

    /// <summary>Empties the cache for a generation of up to <paramref name="capacity"/> tokens, its stride grown in steps of <paramref name="strideStep"/>.</summary>
    public void Reset(int capacity, int strideStep)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(capacity, CapacityLimit);
        _capacity = capacity;
        _strideStep = strideStep;
        Current = 0;
        Queued = 0;
        Array.Clear(Padding);
        Stride = _targetStride = Math.Min(capacity, strideStep);
        CacheVersion = Interlocked.Increment(ref s_versions);
        _rented = true;
        _pass?.Dispose();   // a cache handed back without Dispose kept its last transformer's binding
        _pass = null;
        Clear();   // masked rows still enter the attention's matrix products (times zero): they must be finite
    }

    public void SetPadding(ReadOnlySpan<int> padding)
    {
        for (int b = 0; b < Batch; b++) Padding[b] = padding[b];
    }

    /// <summary>Tensor <paramref name="i"/>'s cache as the past [B,H,stride,Dh] (a view owned by the cache).</summary>
    public OrtValue Past(int i) => Layout.Past(Current, Stride, i);

    /// <summary>Tensor <paramref name="i"/>'s new rows [B,H,s,Dh], the transformer's output (a view owned by the cache).</summary>
    public OrtValue NewRows(int i, int s) => Layout.NewRows(i, s);

    /// <summary>Before a pass of <paramref name="window"/> tokens: writes the queued commit and builds the pass's mask [B, stride + window] (a view owned by the cache).</summary>
    public abstract OrtValue Prepare(int cached, int window, RunOptions runOptions);

    /// <summary>Widens every block to hold <paramref name="rows"/> rows (next stride step, at most the capacity), lazily: the next <see cref="Prepare"/> moves the rows.</summary>
    public void Grow(int rows)
    {
        if (rows <= _targetStride) return;
        _targetStride = Math.Min(_capacity, (rows + _strideStep - 1) / _strideStep * _strideStep);
    }

    /// <summary>Queues new rows <paramref name="kept"/>[m] of the last window for cache row <paramref name="length"/> + m (<see cref="Grow"/> first).</summary>
    public void QueueCommit(ReadOnlySpan<int> kept, int length, int window)
    {
        if (Queued > 0) throw new InvalidOperationException("a commit is already queued");
        if (kept.Length > WindowLimit) throw new ArgumentOutOfRangeException(nameof(kept), $"{kept.Length} rows kept of windows of at most {WindowLimit}");
        if (length + kept.Length > _targetStride) throw new InvalidOperationException($"{length + kept.Length} rows do not fit the stride {_targetStride}; grow it first");
        for (int m = 0; m < kept.Length; m++) KeptIds[m] = kept[m];
        Queued = kept.Length;
        QueuedWindow = window;
        QueuedLength = length;
        OnQueued();
    }

    /// <summary>Writes a queued commit now (reads of the cache need it).</summary>
    public void Flush()
    {
        if (Queued > 0 || _targetStride != Stride) Prepare(0, 1, HelperRunOptions);
    }

    /// <summary>One cached key/value row (tests; host-memory caches of float only).</summary>
    public float[] ReadRow(int tensor, int row, int head, int position)
    {
        if (Graphs.Memory.Name != OrtMemoryInfo.DefaultInstance.Name || Graphs.ElementType != TensorElementType.Float)
            throw new NotSupportedException("reading cache rows needs a float cache in host memory");
        Flush();
        return Layout.ReadRow(Current, Stride, tensor, row, head, position);
    }

    public void Run(TransformerPass pass, int cached, RunOptions runOptions)
    {
        var mask = Prepare(cached, pass.Window, runOptions);
        (_pass ??= new DevicePassBinding(pass, Graphs.CacheIsHostInput)).Run(this, mask, runOptions);
    }

    public void Keep(ReadOnlySpan<int> kept, int cached, int window)
    {
        Grow(cached + kept.Length);
        QueueCommit(kept, cached, window);
    }

    // Rows past the length are masked out, then overwritten by later commits.
    public void Truncate(int cached, int length) { }

    public ReadOnlySpan<float> CachedRow(int tensor, int row, int head, int position) => ReadRow(tensor, row, head, position);

    /// <summary>Zeroes the cache rows of a fresh rental.</summary>
    protected abstract void Clear();

    /// <summary>Copies every block of buffer <paramref name="from"/> (<paramref name="oldStride"/> rows) into <see cref="Current"/> at <see cref="Stride"/> rows, the new rows zero (the same buffer for a cache that restrides in place).</summary>
    protected abstract void Restride(int from, int oldStride);

    /// <summary>A commit was queued (<see cref="KeptIds"/>, <see cref="Queued"/>, <see cref="QueuedLength"/>).</summary>
    protected virtual void OnQueued() { }

    /// <summary>Applies a pending <see cref="Grow"/>: the cache moves into the other buffer, wider.</summary>
    protected void ApplyGrowth()
    {
        if (_targetStride == Stride) return;
        int from = Current, old = Stride;
        if (!_restridesInPlace) Current ^= 1;
        Stride = _targetStride;
        Restride(from, old);
        CacheVersion = Interlocked.Increment(ref s_versions);
    }

    /// <summary>Ends this rental: the transformer's binding goes and the cache returns to its pool.</summary>
    public void Dispose()
    {
        if (!_rented) return;
        _rented = false;
        _pass?.Dispose();
        _pass = null;
        Graphs.ReturnCache(this);
    }

    /// <summary>Frees the buffers (the pool's end).</summary>
    public virtual void Free()
    {
        _pass?.Dispose();
        Layout.Dispose();
        HelperRunOptions.Dispose();
    }
}
