using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Sjd2Onnx.Model;

/// <summary>
/// A <see cref="DeviceKvCache"/> written by the helper graphs of <see cref="KvCacheGraphs"/> on the
/// provider (CUDA, float16 caches, the device path's emulation on the CPU).
/// </summary>
internal sealed class GraphKvCache : DeviceKvCache
{
    // Before each pass one run scatters the queued rows into the cache in place and builds the mask:
    // only the pass's small inputs and the commit's indices cross to the device.

    // The prepare graph's binding and its host inputs; the arrays' contents change per pass, so a
    // provider that copies at bind time gets them bound again each pass.
    private DeviceBinding? _binding;
    private OrtValue? _paddingValue;
    private OrtValue[] _scalarValues = [];
    private readonly long[] _scalars = new long[3];   // cached, stride, total
    private readonly long[] _indices;                 // the scatter positions [T,B,H,k,4]
    private (OrtValue Kept, OrtValue Indices)? _noKept;

    public GraphKvCache(KvCacheGraphs graphs, int batch, int heads, int headDim, int capacity, int maxWindow)
        : base(graphs, batch, heads, headDim, capacity, maxWindow, KvCacheBuffer.Allocate)
    {
        _indices = new long[graphs.Tensors * batch * heads * maxWindow * 4];
    }

    public override TimeSpan HostTime => TimeSpan.Zero;

    public override OrtValue Prepare(int cached, int window, RunOptions runOptions)
    {
        ApplyGrowth();
        int total = Stride + window;
        var mask = Layout.Mask(total);
        _scalars[0] = cached; _scalars[1] = Stride; _scalars[2] = total;
        var binding = _binding ??= Graphs.CreatePrepareBinding();
        if (_paddingValue is null)
        {
            _paddingValue = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, Padding.AsMemory(), [Batch, 1]);
            _scalarValues = [.. Enumerable.Range(0, 3).Select(i => OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _scalars.AsMemory(i, 1), []))];
            BindScalars(binding);
        }
        else if (binding.RenewsHostInputs) BindScalars(binding);   // a device took the last pass's values when they were bound
        var cache = Layout.CacheStack(Current, Stride);
        var rows = Layout.RowStack(Math.Max(1, QueuedWindow));
        var (kept, indices) = KeptValues(Queued);
        try
        {
            binding.BindInput("cache", cache, Graphs.CacheIsHostInput);
            binding.BindInput("rows", rows, Graphs.CacheIsHostInput);
            binding.BindHostInput("kept", kept);
            binding.BindHostInput("indices", indices);
            binding.BindOutput("cache_out", cache);
            binding.BindOutput("attention_mask", mask);
            Graphs.Prepare(binding, Queued > 0 ? HelperRunOptions : runOptions); // a queued commit is not cancelled halfway
        }
        finally
        {
            if (Queued > 0) { kept.Dispose(); indices.Dispose(); }
        }
        LastCommitBytes = (Queued + Queued * Graphs.Tensors * Batch * Heads * 4) * sizeof(long);
        Queued = 0;
        return mask;
    }

    protected override void Clear() => Graphs.Zero(Layout.CacheStack(Current, Stride), HelperRunOptions);

    protected override void Restride(int from, int oldStride) =>
        Graphs.Restride(Layout.CacheStack(from, oldStride), Layout.CacheStack(Current, Stride), Stride - oldStride, HelperRunOptions);

    // The scatter positions of the queued rows: (tensor, batch row, head, cache row) for each.
    protected override void OnQueued()
    {
        int o = 0;
        for (int t = 0; t < Graphs.Tensors; t++)
            for (int b = 0; b < Batch; b++)
                for (int h = 0; h < Heads; h++)
                    for (int m = 0; m < Queued; m++, o += 4) { _indices[o] = t; _indices[o + 1] = b; _indices[o + 2] = h; _indices[o + 3] = QueuedLength + m; }
    }

    private void BindScalars(DeviceBinding binding)
    {
        binding.BindHostInput("padding", _paddingValue!);
        binding.BindHostInput("cached", _scalarValues[0]);
        binding.BindHostInput("stride", _scalarValues[1]);
        binding.BindHostInput("total", _scalarValues[2]);
    }

    // Host views of the first k kept ids [k] and scatter indices [T,B,H,k,4]: per commit (the caller
    // disposes them), or, for no commit, ORT-allocated empty tensors made once (an empty slice cannot be pinned).
    private (OrtValue Kept, OrtValue Indices) KeptValues(int k)
    {
        int tensors = Graphs.Tensors;
        if (k == 0)
            return _noKept ??= (OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, TensorElementType.Int64, [0]),
                OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, TensorElementType.Int64, [tensors, Batch, Heads, 0, 4]));
        return (OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, KeptIds.AsMemory(0, k), [k]),
            OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _indices.AsMemory(0, tensors * Batch * Heads * k * 4),
                [tensors, Batch, Heads, k, 4]));
    }

    public override void Free()
    {
        _binding?.Dispose();
        _paddingValue?.Dispose();
        foreach (var v in _scalarValues) v.Dispose();
        if (_noKept is var (noKept, noIndices)) { noKept.Dispose(); noIndices.Dispose(); }
        base.Free();
    }
}
