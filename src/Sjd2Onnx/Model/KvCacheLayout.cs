using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Sjd2Onnx.Model;

/// <summary>
/// The buffers of a <see cref="DeviceKvCache"/> and their views: one or two stacked caches [T,B,H,stride,Dh]
/// (with two, a stride move copies from one into the other), the new rows [T,B,H,S,Dh] and the mask [B, stride + S].
/// </summary>
internal sealed class KvCacheLayout : IDisposable
{
    // Views are plain descriptors of the buffers: made once per shape and kept while the buffers
    // live, so a pass allocates none after the first images.
    private readonly KvCacheGraphs _graphs;
    private readonly int _tensors, _batch, _heads, _headDim;
    private readonly KvCacheBuffer[] _caches;
    private readonly KvCacheBuffer _rows, _mask;
    private readonly Dictionary<(int Buffer, int Stride), (OrtValue[] Past, OrtValue Stack)> _cacheViews = [];
    private readonly Dictionary<int, OrtValue[]> _rowViews = [];
    private readonly Dictionary<int, OrtValue> _rowStacks = [], _maskViews = [];

    /// <summary>Allocates the buffers with <paramref name="allocate"/> (graphs, elements, bytes, of longs), <paramref name="caches"/> cache buffers of them.</summary>
    public KvCacheLayout(KvCacheGraphs graphs, int batch, int heads, int headDim, int capacity, int maxWindow,
        Func<KvCacheGraphs, long, long, bool, KvCacheBuffer> allocate, int caches)
    {
        _graphs = graphs;
        _tensors = graphs.Tensors; _batch = batch; _heads = heads; _headDim = headDim;
        var allocations = new List<KvCacheBuffer>();
        try
        {
            KvCacheBuffer Add(long elements, bool longs)
            {
                long bytes = Math.Max(1, elements) * (longs ? sizeof(long) : graphs.ElementSize);
                if (bytes > uint.MaxValue) throw new Sjd2Exception($"a KV cache buffer of {bytes} bytes exceeds 4 GiB; lower the batch or the capacity.");
                var a = allocate(graphs, elements, bytes, longs);
                allocations.Add(a);
                return a;
            }
            _caches = [.. Enumerable.Range(0, caches).Select(_ => Add(BlockElements(capacity) * _tensors, false))];
            _rows = Add(BlockElements(maxWindow) * _tensors, false);
            _mask = Add((long)batch * (capacity + maxWindow), true);
        }
        catch
        {
            foreach (var a in allocations) a.Dispose();
            throw;
        }
    }

    /// <summary>Elements of one tensor's [B,H,rows,Dh] block.</summary>
    public long BlockElements(long rows) => (long)_batch * _heads * rows * _headDim;

    /// <summary>Tensor <paramref name="i"/>'s block [B,H,stride,Dh] of cache buffer <paramref name="buffer"/>.</summary>
    public OrtValue Past(int buffer, int stride, int i) => CacheViews(buffer, stride).Past[i];

    /// <summary>Cache buffer <paramref name="buffer"/>, stacked [T,B,H,stride,Dh].</summary>
    public OrtValue CacheStack(int buffer, int stride) => CacheViews(buffer, stride).Stack;

    /// <summary>Tensor <paramref name="i"/>'s new rows [B,H,s,Dh].</summary>
    public OrtValue NewRows(int i, int s)
    {
        if (!_rowViews.TryGetValue(s, out var views))
            _rowViews[s] = views = [.. Enumerable.Range(0, _tensors).Select(t => Block(_rows, t, s))];
        return views[i];
    }

    /// <summary>The new rows of a window of <paramref name="window"/>, stacked [T,B,H,window,Dh].</summary>
    public OrtValue RowStack(int window)
    {
        if (!_rowStacks.TryGetValue(window, out var rows)) _rowStacks[window] = rows = Stack(_rows, window);
        return rows;
    }

    /// <summary>The mask [B, <paramref name="total"/>].</summary>
    public OrtValue Mask(int total)
    {
        if (!_maskViews.TryGetValue(total, out var mask))
            _maskViews[total] = mask = OrtValue.CreateTensorValueWithData(_graphs.Memory, TensorElementType.Int64, [_batch, total],
                _mask.Address, (long)_batch * total * sizeof(long));
        return mask;
    }

    /// <summary>Cache buffer <paramref name="buffer"/> as floats [T,B,H,stride,Dh] (pinned host buffers).</summary>
    public Span<float> CacheFloats(int buffer, int stride) => _caches[buffer].Floats.AsSpan(0, (int)(BlockElements(stride) * _tensors));

    /// <summary>The new rows of a window as floats [T,B,H,window,Dh] (pinned host buffers).</summary>
    public ReadOnlySpan<float> RowFloats(int window) => _rows.Floats.AsSpan(0, (int)(BlockElements(window) * _tensors));

    /// <summary>The mask's first <paramref name="count"/> values (pinned host buffers).</summary>
    public Span<long> MaskLongs(int count) => _mask.Longs.AsSpan(0, count);

    /// <summary>One row of tensor <paramref name="tensor"/> in cache buffer <paramref name="buffer"/> (host memory of floats).</summary>
    public float[] ReadRow(int buffer, int stride, int tensor, int row, int head, int position)
    {
        var result = new float[_headDim];
        long offset = BlockElements(stride) * tensor + (((long)row * _heads + head) * stride + position) * _headDim;
        Marshal.Copy(_caches[buffer].Address + (nint)(offset * sizeof(float)), result, 0, _headDim);
        return result;
    }

    private (OrtValue[] Past, OrtValue Stack) CacheViews(int buffer, int stride)
    {
        if (!_cacheViews.TryGetValue((buffer, stride), out var views))
        {
            var b = _caches[buffer];
            _cacheViews[(buffer, stride)] = views = ([.. Enumerable.Range(0, _tensors).Select(t => Block(b, t, stride))], Stack(b, stride));
        }
        return views;
    }

    // Tensor i's [B,H,rows,Dh] block of a stacked buffer.
    private OrtValue Block(KvCacheBuffer buffer, int i, long rows)
    {
        long bytes = BlockElements(rows) * _graphs.ElementSize;
        return OrtValue.CreateTensorValueWithData(_graphs.Memory, _graphs.ElementType, [_batch, _heads, rows, _headDim],
            buffer.Address + (nint)(bytes * i), bytes);
    }

    // The whole stacked buffer [T,B,H,rows,Dh].
    private OrtValue Stack(KvCacheBuffer buffer, long rows) =>
        OrtValue.CreateTensorValueWithData(_graphs.Memory, _graphs.ElementType, [_tensors, _batch, _heads, rows, _headDim],
            buffer.Address, BlockElements(rows) * _tensors * _graphs.ElementSize);

    public void Dispose()
    {
        foreach (var (past, stack) in _cacheViews.Values) { foreach (var v in past) v.Dispose(); stack.Dispose(); }
        foreach (var views in _rowViews.Values) foreach (var v in views) v.Dispose();
        foreach (var v in _rowStacks.Values) v.Dispose();
        foreach (var v in _maskViews.Values) v.Dispose();
        foreach (var b in _caches) b.Dispose();
        _rows.Dispose();
        _mask.Dispose();
    }
}
