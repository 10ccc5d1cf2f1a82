using System.Diagnostics;
using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Sjd2Onnx.Model;

/// <summary>
/// A contract-2 KV cache that lives in the execution provider's memory (device memory on CUDA,
/// host memory on the CPU provider: the same code path). All T = 2·layers tensors share one
/// buffer, stacked [T,B,H,stride,Dh], the stride grown in steps as the cache fills; the transformer
/// reads tensor i's block as its past (a view, no copy) and writes its new rows into a second
/// stacked buffer [T,B,H,S,Dh]; a commit gathers the kept rows and scatters them into the cache in
/// place, on the device, in the same run that builds the next pass's mask. Only the pass's small
/// inputs (embeddings, positions, a few integers, the commit's indices) and the logits cross to
/// the host. Where the cache is plain host memory of floats (the CPU provider, and DirectML, whose
/// cache stays on the host), the commit, the mask and the stride moves are written here instead,
/// with no helper run: on the CPU that run cost more than the copies it made (30 µs a pass, a
/// tenth of an AR pass of the default model). Caches are rented from <see cref="KvCacheGraphs"/>
/// and reused across generations with their views, so a pass allocates no view after the first images.
/// </summary>
internal sealed class DeviceKvCache : IDisposable
{
    private readonly KvCacheGraphs _graphs;
    private readonly int _tensors, _heads, _headDim;
    // Two cache buffers of the full capacity: a stride move copies from one into the other.
    private readonly CacheBuffer[] _buffers;
    private readonly CacheBuffer _rows, _mask;
    private int _current, _capacity, _strideStep;
    private int _targetStride; // the stride after the growth Grow asked for, applied by the next Prepare (= Stride when none)
    private static int s_versions;
    private readonly RunOptions _runOptions = new();   // helper runs finish once begun: a cancelled commit would tear the cache
    // Views are plain descriptors of the buffers: made once per shape and kept while the cache lives.
    private readonly Dictionary<(int Buffer, int Stride), (OrtValue[] Past, OrtValue Stack)> _cacheViews = [];
    private readonly Dictionary<int, OrtValue[]> _rowViews = [];
    private readonly Dictionary<int, OrtValue> _rowStacks = [], _maskViews = [];
    private (OrtValue Kept, OrtValue Indices)? _noKept;
    // The prepare graph's binding and its host inputs; the arrays' contents change per pass, so a
    // provider that copies at bind time gets them bound again each pass.
    private DeviceBinding? _binding;
    private OrtValue? _paddingValue;
    private OrtValue[] _scalarValues = [];
    private readonly long[] _scalars = new long[3];   // cached, stride, total
    private readonly long[] _keptIds, _indices;
    private readonly long[] _padding;                 // left padding of each batch row
    private int _queued, _queuedWindow;               // the queued commit: rows kept, of a window of
    private int _queuedLength;                        // cache row of the first kept row
    private readonly bool _onHost;                    // commits, masks and stride moves written on the host
    private long _hostTicks;                          // stopwatch ticks of that host work

    /// <summary>Allocates the buffers for up to <paramref name="capacity"/> tokens and windows of up to <paramref name="maxWindow"/>.</summary>
    public DeviceKvCache(KvCacheGraphs graphs, int batch, int heads, int headDim, int capacity, int maxWindow)
    {
        _graphs = graphs;
        _tensors = graphs.Tensors; Batch = batch; _heads = heads; _headDim = headDim;
        CapacityLimit = capacity; WindowLimit = maxWindow;
        _onHost = graphs.WritesOnHost;
        _keptIds = new long[maxWindow];
        _padding = new long[batch];
        _indices = _onHost ? [] : new long[_tensors * batch * heads * maxWindow * 4];   // the prepare graph's scatter positions
        var allocations = new List<CacheBuffer>();
        try
        {
            CacheBuffer Add(CacheBuffer a)
            {
                allocations.Add(a);
                return a;
            }
            _buffers = [Add(Allocate(BlockElements(capacity) * _tensors, graphs.ElementSize)), Add(Allocate(BlockElements(capacity) * _tensors, graphs.ElementSize))];
            _rows = Add(Allocate(BlockElements(maxWindow) * _tensors, graphs.ElementSize));
            _mask = Add(Allocate((long)batch * (capacity + maxWindow), sizeof(long), longs: true));
        }
        catch
        {
            foreach (var a in allocations) a.Dispose();
            _runOptions.Dispose();
            throw;
        }
    }

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

    /// <summary>Host time spent writing commits, masks and stride moves (caches that write on the host), since the last <see cref="Reset"/> (its clearing included).</summary>
    public TimeSpan HostTime => Stopwatch.GetElapsedTime(0, _hostTicks);

    /// <summary>Host bytes the last <see cref="Prepare"/> bound for its commit (kept indices and scatter positions).</summary>
    public long LastCommitBytes { get; private set; }

    /// <summary>
    /// Empties the cache for a generation of up to <paramref name="capacity"/> tokens whose stride
    /// grows in steps of <paramref name="strideStep"/> (the same strides as a fresh cache of that capacity).
    /// </summary>
    public void Reset(int capacity, int strideStep)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(capacity, CapacityLimit);
        _capacity = capacity;
        _strideStep = strideStep;
        _current = 0;
        _queued = 0;
        Array.Clear(_padding);
        Stride = _targetStride = Math.Min(capacity, strideStep);
        CacheVersion = Interlocked.Increment(ref s_versions);
        // Masked rows still enter the attention's matrix products (times zero): they must be finite.
        if (_onHost)
        {
            long start = Stopwatch.GetTimestamp();
            CacheFloats(_current, Stride).Clear();
            _hostTicks = Stopwatch.GetTimestamp() - start;
        }
        else _graphs.Zero(CacheViews().Stack, _runOptions);
    }

    /// <summary>Sets each batch row's left padding (its first cache rows are never visible).</summary>
    public void SetPadding(ReadOnlySpan<int> padding)
    {
        for (int b = 0; b < Batch; b++) _padding[b] = padding[b];
    }

    /// <summary>Tensor <paramref name="i"/>'s cache as the past [B,H,stride,Dh] (a view owned by the cache).</summary>
    public OrtValue Past(int i) => CacheViews().Past[i];

    /// <summary>Tensor <paramref name="i"/>'s new rows [B,H,s,Dh], the transformer's output (a view owned by the cache).</summary>
    public OrtValue NewRows(int i, int s)
    {
        if (!_rowViews.TryGetValue(s, out var views))
            _rowViews[s] = views = [.. Enumerable.Range(0, _tensors).Select(t => Block(_rows, t, s))];
        return views[i];
    }

    /// <summary>
    /// Before a pass of <paramref name="window"/> tokens: writes the queued commit into the cache and
    /// builds the pass's attention mask [B, stride + window] (a view owned by the cache), in one run
    /// on the device.
    /// </summary>
    public OrtValue Prepare(int cached, int window, RunOptions runOptions)
    {
        long start = _onHost ? Stopwatch.GetTimestamp() : 0;
        ApplyGrowth();
        int total = Stride + window;
        if (!_maskViews.TryGetValue(total, out var mask))
            _maskViews[total] = mask = OrtValue.CreateTensorValueWithData(_graphs.Memory, TensorElementType.Int64, [Batch, total],
                _mask.Address, (long)Batch * total * sizeof(long));
        if (_onHost)
        {
            if (_queued > 0) CommitOnHost();
            WriteMask(_mask.Longs.AsSpan(0, Batch * total), cached, total);
            LastCommitBytes = 0;
            _queued = 0;
            _hostTicks += Stopwatch.GetTimestamp() - start;
            return mask;
        }
        _scalars[0] = cached; _scalars[1] = Stride; _scalars[2] = total;
        var binding = _binding ??= _graphs.CreatePrepareBinding();
        if (_paddingValue is null)
        {
            _paddingValue = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _padding.AsMemory(), [Batch, 1]);
            _scalarValues = [.. Enumerable.Range(0, 3).Select(i => OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _scalars.AsMemory(i, 1), []))];
            BindScalars(binding);
        }
        else if (binding.RenewsHostInputs) BindScalars(binding);   // a device took the last pass's values when they were bound
        var cache = CacheViews().Stack;
        int rowsWindow = Math.Max(1, _queuedWindow);
        if (!_rowStacks.TryGetValue(rowsWindow, out var rows)) _rowStacks[rowsWindow] = rows = Stack(_rows, rowsWindow);
        var (kept, indices) = KeptValues(_queued);
        try
        {
            binding.BindInput("cache", cache, _graphs.CacheIsHostInput);
            binding.BindInput("rows", rows, _graphs.CacheIsHostInput);
            binding.BindHostInput("kept", kept);
            binding.BindHostInput("indices", indices);
            binding.BindOutput("cache_out", cache);
            binding.BindOutput("attention_mask", mask);
            _graphs.Prepare(binding, _queued > 0 ? _runOptions : runOptions); // a queued commit is not cancelled halfway
        }
        finally
        {
            if (_queued > 0) { kept.Dispose(); indices.Dispose(); }
        }
        LastCommitBytes = (_queued + _queued * _tensors * Batch * _heads * 4) * sizeof(long);
        _queued = 0;
        return mask;
    }

    private void BindScalars(DeviceBinding binding)
    {
        binding.BindHostInput("padding", _paddingValue!);
        binding.BindHostInput("cached", _scalarValues[0]);
        binding.BindHostInput("stride", _scalarValues[1]);
        binding.BindHostInput("total", _scalarValues[2]);
    }

    /// <summary>
    /// Widens every block to hold <paramref name="rows"/> rows (next multiple of the stride step, at
    /// most the capacity): the next <see cref="Prepare"/> (or <see cref="Flush"/>) copies the cache
    /// into the other buffer, wider.
    /// </summary>
    public void Grow(int rows)
    {
        if (rows <= _targetStride) return;
        // Lazy, like a commit: the copy runs at the start of the next Prepare, on the device and
        // inside the pass's time, and queued rows are scattered into the wider buffer after it.
        _targetStride = Math.Min(_capacity, (rows + _strideStep - 1) / _strideStep * _strideStep);
    }

    private void ApplyGrowth()
    {
        if (_targetStride == Stride) return;
        var source = CacheViews().Stack;
        _current ^= 1;
        int old = Stride;
        Stride = _targetStride;
        if (_onHost) RestrideOnHost(CacheFloats(_current ^ 1, old), CacheFloats(_current, Stride), old);
        else _graphs.Restride(source, CacheViews().Stack, Stride - old, _runOptions);
        CacheVersion = Interlocked.Increment(ref s_versions);
    }

    // Every [rows, Dh] block of the old stride into the new one, the rows added zero.
    private void RestrideOnHost(ReadOnlySpan<float> source, Span<float> target, int oldStride)
    {
        int oldBlock = oldStride * _headDim, newBlock = Stride * _headDim;
        for (int block = 0; block < _tensors * Batch * _heads; block++)
        {
            source.Slice(block * oldBlock, oldBlock).CopyTo(target.Slice(block * newBlock, oldBlock));
            target.Slice(block * newBlock + oldBlock, newBlock - oldBlock).Clear();
        }
    }

    // The queued commit: new row kept[m] of every block to cache row length + m (one copy a block for a chain).
    private void CommitOnHost()
    {
        int window = _queuedWindow, k = _queued;
        ReadOnlySpan<float> rows = _rows.Floats.AsSpan(0, (int)(BlockElements(window) * _tensors));
        var cache = CacheFloats(_current, Stride);
        bool chain = true;
        for (int m = 0; m < k; m++) chain &= _keptIds[m] == m;
        int rowBlock = window * _headDim, cacheBlock = Stride * _headDim, at = _queuedLength * _headDim;
        for (int block = 0; block < _tensors * Batch * _heads; block++)
        {
            var from = rows.Slice(block * rowBlock, rowBlock);
            var to = cache.Slice(block * cacheBlock + at, k * _headDim);
            if (chain) from[..(k * _headDim)].CopyTo(to);
            else for (int m = 0; m < k; m++) from.Slice((int)_keptIds[m] * _headDim, _headDim).CopyTo(to.Slice(m * _headDim, _headDim));
        }
    }

    // The prepare graph's rule: cache row t is visible iff filled (t < cached) and not padding;
    // window token j (column stride + j) iff its cache index cached + j is not padding.
    private void WriteMask(Span<long> mask, int cached, int total)
    {
        for (int b = 0; b < Batch; b++)
        {
            var row = mask.Slice(b * total, total);
            long padding = _padding[b];
            for (int t = 0; t < total; t++)
            {
                bool inWindow = t >= Stride;
                long position = inWindow ? cached + t - Stride : t;
                row[t] = (inWindow || t < cached) && position >= padding ? 1 : 0;
            }
        }
    }

    /// <summary>
    /// Queues new rows <paramref name="kept"/>[m] of the last window (of <paramref name="window"/>
    /// tokens) for cache row <paramref name="length"/> + m of every block; the next
    /// <see cref="Prepare"/> writes them (the stride must hold them: <see cref="Grow"/> first).
    /// </summary>
    public void QueueCommit(ReadOnlySpan<int> kept, int length, int window)
    {
        if (_queued > 0) throw new InvalidOperationException("a commit is already queued");
        if (kept.Length > WindowLimit) throw new ArgumentOutOfRangeException(nameof(kept), $"{kept.Length} rows kept of windows of at most {WindowLimit}");
        if (length + kept.Length > _targetStride) throw new InvalidOperationException($"{length + kept.Length} rows do not fit the stride {_targetStride}; grow it first");
        int k = kept.Length;
        for (int m = 0; m < k; m++) _keptIds[m] = kept[m];
        _queued = k;
        _queuedWindow = window;
        _queuedLength = length;
        if (_onHost) return;   // the scatter positions are for the prepare graph only
        int o = 0;
        for (int t = 0; t < _tensors; t++)
            for (int b = 0; b < Batch; b++)
                for (int h = 0; h < _heads; h++)
                    for (int m = 0; m < k; m++, o += 4) { _indices[o] = t; _indices[o + 1] = b; _indices[o + 2] = h; _indices[o + 3] = length + m; }
    }

    /// <summary>Writes a queued commit now (reads of the cache need it).</summary>
    public void Flush()
    {
        if (_queued > 0 || _targetStride != Stride) Prepare(0, 1, _runOptions);
    }

    /// <summary>One cached key/value row (tests; host-memory caches of float only).</summary>
    public float[] ReadRow(int tensor, int row, int head, int position)
    {
        if (_graphs.Memory.Name != OrtMemoryInfo.DefaultInstance.Name || _graphs.ElementType != TensorElementType.Float)
            throw new NotSupportedException("reading cache rows needs a float cache in host memory");
        Flush();
        var result = new float[_headDim];
        long offset = BlockElements(Stride) * tensor + (((long)row * _heads + head) * Stride + position) * _headDim;
        if (_onHost) CacheFloats(_current, Stride).Slice((int)offset, _headDim).CopyTo(result);
        else Marshal.Copy(_buffers[_current].Address + (nint)(offset * sizeof(float)), result, 0, _headDim);
        return result;
    }

    private (OrtValue[] Past, OrtValue Stack) CacheViews()
    {
        var key = (_current, Stride);
        if (!_cacheViews.TryGetValue(key, out var views))
        {
            var buffer = _buffers[_current];
            _cacheViews[key] = views = ([.. Enumerable.Range(0, _tensors).Select(t => Block(buffer, t, Stride))], Stack(buffer, Stride));
        }
        return views;
    }

    // Host views of the first k kept ids [k] and scatter indices [T,B,H,k,4]: per commit (the caller
    // disposes them), or, for no commit, ORT-allocated empty tensors made once (an empty slice cannot be pinned).
    private (OrtValue Kept, OrtValue Indices) KeptValues(int k)
    {
        if (k == 0)
            return _noKept ??= (OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, TensorElementType.Int64, [0]),
                OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, TensorElementType.Int64, [_tensors, Batch, _heads, 0, 4]));
        return (OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _keptIds.AsMemory(0, k), [k]),
            OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _indices.AsMemory(0, _tensors * Batch * _heads * k * 4),
                [_tensors, Batch, _heads, k, 4]));
    }

    private long BlockElements(long rows) => (long)Batch * _heads * rows * _headDim;

    private CacheBuffer Allocate(long elements, int elementSize, bool longs = false)
    {
        long bytes = Math.Max(1, elements) * elementSize;
        if (bytes > uint.MaxValue) throw new Sjd2Exception($"a KV cache buffer of {bytes} bytes exceeds 4 GiB; lower the batch or the capacity.");
        if (!_onHost) return new CacheBuffer(_graphs.Allocator.Allocate((uint)bytes));
        int count = (int)Math.Max(1, elements);
        return longs ? new CacheBuffer(GC.AllocateArray<long>(count, pinned: true)) : new CacheBuffer(GC.AllocateArray<float>(count, pinned: true));
    }

    // Buffer i's stacked cache [T,B,H,stride,Dh] (writing on the host).
    private Span<float> CacheFloats(int buffer, int stride) => _buffers[buffer].Floats.AsSpan(0, (int)(BlockElements(stride) * _tensors));

    // A buffer in the provider's memory, or (writing on the host) a pinned array: views point into
    // it, and the cache reads and writes its elements directly, with no call into ONNX Runtime.
    private sealed class CacheBuffer : IDisposable
    {
        private readonly OrtMemoryAllocation? _allocation;
        private readonly float[]? _floats;
        private readonly long[]? _longs;

        public CacheBuffer(OrtMemoryAllocation allocation)
        {
            _allocation = allocation;
            Address = allocation.DangerousGetHandle();
        }

        public CacheBuffer(float[] pinned)
        {
            _floats = pinned;
            Address = Marshal.UnsafeAddrOfPinnedArrayElement(pinned, 0);
        }

        public CacheBuffer(long[] pinned)
        {
            _longs = pinned;
            Address = Marshal.UnsafeAddrOfPinnedArrayElement(pinned, 0);
        }

        public IntPtr Address { get; }

        public float[] Floats => _floats ?? throw new InvalidOperationException("not a host buffer of floats");

        public long[] Longs => _longs ?? throw new InvalidOperationException("not a host buffer of longs");

        public void Dispose() => _allocation?.Dispose();
    }

    // Tensor i's [B,H,rows,Dh] block of a stacked buffer.
    private OrtValue Block(CacheBuffer buffer, int i, long rows)
    {
        long bytes = BlockElements(rows) * _graphs.ElementSize;
        return OrtValue.CreateTensorValueWithData(_graphs.Memory, _graphs.ElementType, [Batch, _heads, rows, _headDim],
            buffer.Address + (nint)(bytes * i), bytes);
    }

    // The whole stacked buffer [T,B,H,rows,Dh].
    private OrtValue Stack(CacheBuffer buffer, long rows) =>
        OrtValue.CreateTensorValueWithData(_graphs.Memory, _graphs.ElementType, [_tensors, Batch, _heads, rows, _headDim],
            buffer.Address, BlockElements(rows) * _tensors * _graphs.ElementSize);

    public void Dispose()
    {
        _binding?.Dispose();
        _paddingValue?.Dispose();
        foreach (var v in _scalarValues) v.Dispose();
        if (_noKept is var (noKept, noIndices)) { noKept.Dispose(); noIndices.Dispose(); }
        foreach (var (past, stack) in _cacheViews.Values) { foreach (var v in past) v.Dispose(); stack.Dispose(); }
        foreach (var views in _rowViews.Values) foreach (var v in views) v.Dispose();
        foreach (var v in _rowStacks.Values) v.Dispose();
        foreach (var v in _maskViews.Values) v.Dispose();
        foreach (var b in _buffers) b.Dispose();
        _rows.Dispose();
        _mask.Dispose();
        _runOptions.Dispose();
    }
}
