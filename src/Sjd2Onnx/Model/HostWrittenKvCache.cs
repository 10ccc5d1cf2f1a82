using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;

namespace Sjd2Onnx.Model;

/// <summary>
/// A <see cref="DeviceKvCache"/> in host memory of floats (the CPU provider; DirectML, whose cache
/// stays on the host) that writes its commits, masks and stride moves itself, with no helper run.
/// </summary>
internal sealed class HostWrittenKvCache : DeviceKvCache
{
    // On the CPU a helper run cost more than the copies it made (30 µs a pass, a tenth of an AR pass of the default model).
    private long _hostTicks;   // stopwatch ticks of the host work since the last Reset (its clearing included)

    public HostWrittenKvCache(KvCacheGraphs graphs, int batch, int heads, int headDim, int capacity, int maxWindow)
        : base(graphs, batch, heads, headDim, capacity, maxWindow, KvCacheBuffer.Pinned, restridesInPlace: true)
    {
    }

    /// <summary>Host time spent writing commits, masks and stride moves since the last <see cref="DeviceKvCache.Reset"/>.</summary>
    public override TimeSpan HostTime => Stopwatch.GetElapsedTime(0, _hostTicks);

    public override OrtValue Prepare(int cached, int window, RunOptions runOptions)
    {
        long start = Stopwatch.GetTimestamp();
        ApplyGrowth();
        int total = Stride + window;
        var mask = Layout.Mask(total);
        if (Queued > 0) Commit();
        WriteMask(Layout.MaskLongs(Batch * total), cached, total);
        LastCommitBytes = 0;
        Queued = 0;
        _hostTicks += Stopwatch.GetTimestamp() - start;
        return mask;
    }

    protected override void Clear()
    {
        long start = Stopwatch.GetTimestamp();
        Layout.CacheFloats(Current, Stride).Clear();
        _hostTicks = Stopwatch.GetTimestamp() - start;
    }

    // Every [rows, Dh] block of the old stride to its place at the new one, within the one buffer:
    // blocks move back to front (each lands at or after where it was, over blocks already moved),
    // the rows added zero. One buffer instead of two saves the cache's size (42 MB on GPT-B at CFG).
    protected override void Restride(int from, int oldStride)
    {
        var cache = Layout.CacheFloats(Current, Stride);
        int oldBlock = oldStride * HeadDim, newBlock = Stride * HeadDim;
        for (int block = Graphs.Tensors * Batch * Heads - 1; block >= 0; block--)
        {
            cache.Slice(block * oldBlock, oldBlock).CopyTo(cache.Slice(block * newBlock, oldBlock));
            cache.Slice(block * newBlock + oldBlock, newBlock - oldBlock).Clear();
        }
    }

    // The queued commit: new row kept[m] of every block to cache row length + m (one copy a block for a chain).
    private void Commit()
    {
        int window = QueuedWindow, k = Queued;
        var rows = Layout.RowFloats(window);
        var cache = Layout.CacheFloats(Current, Stride);
        bool chain = true;
        for (int m = 0; m < k; m++) chain &= KeptIds[m] == m;
        int rowBlock = window * HeadDim, cacheBlock = Stride * HeadDim, at = QueuedLength * HeadDim;
        for (int block = 0; block < Graphs.Tensors * Batch * Heads; block++)
        {
            var from = rows.Slice(block * rowBlock, rowBlock);
            var to = cache.Slice(block * cacheBlock + at, k * HeadDim);
            if (chain) from[..(k * HeadDim)].CopyTo(to);
            else for (int m = 0; m < k; m++) from.Slice((int)KeptIds[m] * HeadDim, HeadDim).CopyTo(to.Slice(m * HeadDim, HeadDim));
        }
    }

    // The prepare graph's rule: cache row t is visible iff filled (t < cached) and not padding;
    // window token j (column stride + j) iff its cache index cached + j is not padding.
    private void WriteMask(Span<long> mask, int cached, int total)
    {
        for (int b = 0; b < Batch; b++)
        {
            var row = mask.Slice(b * total, total);
            long padding = Padding[b];
            for (int t = 0; t < total; t++)
            {
                bool inWindow = t >= Stride;
                long position = inWindow ? cached + t - Stride : t;
                row[t] = (inWindow || t < cached) && position >= padding ? 1 : 0;
            }
        }
    }
}
