using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Sjd2Onnx.Model;

/// <summary>
/// The KV cache of a contract-1 graph (outputs <c>present.*</c> = past + window) in host arrays: two
/// buffers per layer tensor alternate as past and present. When a whole window is kept the present
/// simply becomes the next past (no copy); a partial keep or a tree path compacts it in place.
/// </summary>
internal sealed class HostKvCache : IKvCache
{
    private readonly int _batch, _heads, _headDim;
    private float[][] _past, _present;     // [2·layers][B·H·capacity·Dh] each
    private readonly long[] _mask;         // [B, capacity]
    private readonly int[] _padding;       // left padding of each row
    private readonly float[] _scratchRows; // kept window rows of one block while a tree path is compacted
    private readonly long _kvRow;          // bytes of one cached token over every tensor and row
    private int _length;

    public HostKvCache(int layers, int batch, int heads, int headDim, int capacity, int maxWindow, Func<int, float[]> allocate)
    {
        _batch = batch; _heads = heads; _headDim = headDim;
        int size = batch * heads * capacity * headDim;
        _past = [.. Enumerable.Range(0, 2 * layers).Select(_ => allocate(size))];
        _present = [.. Enumerable.Range(0, 2 * layers).Select(_ => allocate(size))];
        _mask = new long[batch * capacity];
        _padding = new int[batch];
        _scratchRows = new float[maxWindow * headDim];
        _kvRow = 2L * layers * batch * heads * headDim * sizeof(float);
    }

    public TimeSpan HostTime => TimeSpan.Zero;
    public long LastBoundBytes { get; private set; }
    public long LastReadBackBytes { get; private set; }
    public long LastKvBytes { get; private set; }

    public void SetPadding(ReadOnlySpan<int> padding) => padding.CopyTo(_padding);

    // The past in host arrays, the present (past + window) back into the other buffers.
    public void Run(TransformerPass pass, int cached, RunOptions runOptions)
    {
        int p = cached, s = pass.Window, total = p + s, batch = _batch;
        for (int b = 0; b < batch; b++)
        {
            var row = _mask.AsSpan(b * total, total);
            for (int t = 0; t < total; t++) row[t] = t >= _padding[b] ? 1 : 0;   // cached token t is visible iff not left padding
        }
        var mem = OrtMemoryInfo.DefaultInstance;
        var inputs = new List<OrtValue>(pass.InputNames.Length);
        var outputs = new List<OrtValue>(pass.OutputNames.Length);
        try
        {
            inputs.Add(OrtValue.CreateTensorValueFromMemory(mem, pass.Embeds.AsMemory(0, batch * s * pass.Hidden), [batch, s, pass.Hidden]));
            inputs.Add(OrtValue.CreateTensorValueFromMemory(mem, _mask.AsMemory(0, batch * total), [batch, total]));
            inputs.Add(OrtValue.CreateTensorValueFromMemory(mem, pass.Positions.AsMemory(0, batch * s), [batch, s]));
            foreach (var past in _past) inputs.Add(Tensor(past, [batch, _heads, p, _headDim]));
            if (pass.NoiseLevels is { } noise) inputs.Add(OrtValue.CreateTensorValueFromMemory(mem, noise.AsMemory(0, batch * s), [batch, s]));
            if (pass.WindowMask is { } windowMask) inputs.Add(OrtValue.CreateTensorValueFromMemory(mem, windowMask.AsMemory(0, s * s), [s, s]));
            outputs.Add(OrtValue.CreateTensorValueFromMemory(mem, pass.Logits.AsMemory(0, batch * s * pass.Codebook), [batch, s, pass.Codebook]));
            foreach (var present in _present) outputs.Add(Tensor(present, [batch, _heads, total, _headDim]));
            pass.Session.Run(runOptions, pass.InputNames, inputs, pass.OutputNames, outputs);
        }
        finally
        {
            foreach (var v in inputs) v.Dispose();
            foreach (var v in outputs) v.Dispose();
        }
        LastBoundBytes = (long)batch * total * sizeof(long) + _kvRow * p;   // the mask and the past in
        LastReadBackBytes = _kvRow * total;                                  // past + window out
        LastKvBytes = _kvRow * (p + total);
    }

    public void Keep(ReadOnlySpan<int> kept, int cached, int window)
    {
        int total = cached + window, keptTotal = cached + kept.Length;
        bool prefix = true;
        for (int m = 0; m < kept.Length; m++) prefix &= kept[m] == m;
        if (prefix && keptTotal < total)
            foreach (var buffer in _present) Compact(buffer, total, keptTotal);
        else if (!prefix)
            foreach (var buffer in _present) CompactPath(buffer, cached, total, keptTotal, kept);
        (_past, _present) = (_present, _past);
        _length = keptTotal;
    }

    public void Truncate(int cached, int length)
    {
        if (length < cached)
            foreach (var buffer in _past) Compact(buffer, cached, length);
        _length = length;
    }

    public ReadOnlySpan<float> CachedRow(int tensor, int row, int head, int position) =>
        _past[tensor].AsSpan(((row * _heads + head) * _length + position) * _headDim, _headDim);

    // [B·H, from, Dh] -> [B·H, to, Dh], in place; moving blocks front to back never overwrites unread data.
    private void Compact(float[] buffer, int from, int to)
    {
        int blocks = _batch * _heads, rowLen = _headDim;
        for (int blk = 1; blk < blocks; blk++)
            buffer.AsSpan(blk * from * rowLen, to * rowLen).CopyTo(buffer.AsSpan(blk * to * rowLen, to * rowLen));
    }

    // [B·H, total, Dh] -> [B·H, p + kept, Dh] keeping the first p rows and window rows p + kept[m], in place.
    // A block's kept rows go through scratch first: its destination may overlap them.
    private void CompactPath(float[] buffer, int p, int total, int keptTotal, ReadOnlySpan<int> kept)
    {
        int blocks = _batch * _heads, rowLen = _headDim;
        for (int blk = 0; blk < blocks; blk++)
        {
            for (int m = 0; m < kept.Length; m++)
                buffer.AsSpan((blk * total + p + kept[m]) * rowLen, rowLen).CopyTo(_scratchRows.AsSpan(m * rowLen, rowLen));
            if (blk > 0) buffer.AsSpan(blk * total * rowLen, p * rowLen).CopyTo(buffer.AsSpan(blk * keptTotal * rowLen, p * rowLen));
            _scratchRows.AsSpan(0, kept.Length * rowLen).CopyTo(buffer.AsSpan((blk * keptTotal + p) * rowLen, kept.Length * rowLen));
        }
    }

    private static OrtValue Tensor(float[] buffer, long[] shape)
    {
        long count = shape[0] * shape[1] * shape[2] * shape[3];
        // A zero-length past (first pass) cannot be pinned from an empty slice; let ORT allocate it.
        return count == 0
            ? OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, TensorElementType.Float, shape)
            : OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, buffer.AsMemory(0, (int)count), shape);
    }

    public void Dispose() { }   // plain arrays (the pipeline's pool hands them out)
}
