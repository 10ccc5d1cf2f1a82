using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Sjd2Onnx.Model;

namespace Sjd2Onnx.Tests;

/// <summary>
/// The device-resident KV cache on the CPU provider (device memory is host memory there, so the
/// rows can be read back), both ways it can work: with its helper graphs (as on CUDA) and writing on
/// the host (the CPU default). The mask follows the visibility rule, a commit writes exactly the
/// kept rows in place, a stride move keeps the rows and zeroes the new ones.
/// </summary>
public sealed class DeviceKvCacheTests : IDisposable
{
    private const int Tensors = 2, Batch = 2, Heads = 2, HeadDim = 3;
    private readonly SessionOptions _options;
    private readonly KvCacheGraphs _hostWrites, _graphWrites;
    private readonly RunOptions _run = new();

    public DeviceKvCacheTests()
    {
        OnnxRuntimeEnvironment.Get();   // the engine's environment first: it routes ONNX Runtime's log
        _options = new SessionOptions();
        _hostWrites = KvCacheGraphs.Open(_options, ExecutionProvider.Cpu, 0, Tensors, TensorElementType.Float);
        _graphWrites = KvCacheGraphs.Open(_options, ExecutionProvider.Cpu, 0, Tensors, TensorElementType.Float, HostInputTransfer.EmulatedCopy);
    }

    [Fact]
    public void TheCpuCacheWritesOnTheHostUnlessAskedNotTo()
    {
        Assert.True(_hostWrites.WritesOnHost);
        Assert.False(_graphWrites.WritesOnHost);
        using var half = KvCacheGraphs.Open(_options, ExecutionProvider.Cpu, 0, Tensors, TensorElementType.Float16);
        Assert.False(half.WritesOnHost);   // float16 caches keep the graphs
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void MaskShowsFilledRowsAndTheWindowButNotPadding(bool onHost)
    {
        using var cache = Rent(onHost, capacity: 12, maxWindow: 4, strideStep: 5);
        int stride = cache.Stride;
        Assert.Equal(5, stride);
        foreach (int cached in new[] { 0, 2, 5 })
            foreach (int window in new[] { 1, 3 })
            {
                long[] padding = [0, 3];
                cache.SetPadding([0, 3]);
                var mask = cache.Prepare(cached, window, _run);
                var values = mask.GetTensorDataAsSpan<long>();
                Assert.Equal(Batch * (stride + window), values.Length);
                for (int b = 0; b < Batch; b++)
                    for (int t = 0; t < stride + window; t++)
                    {
                        bool inWindow = t >= stride;
                        long index = inWindow ? cached + t - stride : t;
                        bool visible = (inWindow || t < cached) && index >= padding[b];
                        Assert.True((visible ? 1 : 0) == values[b * (stride + window) + t], $"cached {cached}, window {window}, row {b}, column {t}");
                    }
            }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void CommitWritesTheKeptRowsInPlaceAndGrowingKeepsThem(bool onHost)
    {
        using var cache = Rent(onHost, capacity: 12, maxWindow: 4, strideStep: 4);
        FillWindow(cache, window: 3, pass: 1);
        cache.QueueCommit([2, 0], length: 0, window: 3);                     // a tree path: window tokens 2 then 0
        cache.Prepare(2, 4, _run);                                      // writes the queued rows before the pass
        FillWindow(cache, window: 4, pass: 2);
        cache.Grow(2 + 4);
        Assert.Equal(4, cache.Stride);                                  // growing is lazy, like a commit
        cache.QueueCommit([0, 1, 2, 3], length: 2, window: 4);          // a chain, written by the first read
        for (int t = 0; t < Tensors; t++)
            for (int b = 0; b < Batch; b++)
                for (int h = 0; h < Heads; h++)
                {
                    Assert.Equal(Row(1, t, b, h, 2), cache.ReadRow(t, b, h, 0));
                    Assert.Equal(Row(1, t, b, h, 0), cache.ReadRow(t, b, h, 1));
                    for (int m = 0; m < 4; m++) Assert.Equal(Row(2, t, b, h, m), cache.ReadRow(t, b, h, 2 + m));
                    for (int p = 6; p < 8; p++) Assert.Equal(new float[HeadDim], cache.ReadRow(t, b, h, p));
                }
        Assert.Equal(8, cache.Stride);
        Assert.Throws<InvalidOperationException>(() => cache.QueueCommit([0, 1, 2], length: 6, window: 4)); // past the stride
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void CommitBytesDependOnTheKeptCountOnly(bool onHost)
    {
        using var cache = Rent(onHost, capacity: 40, maxWindow: 2, strideStep: 4);
        for (int length = 0; length < 38; length += 2)
        {
            FillWindow(cache, window: 2, pass: length);
            cache.Grow(length + 2);
            cache.QueueCommit([0, 1], length, window: 2);
            cache.Prepare(length + 2, 1, _run);
            Assert.Equal(onHost ? 0 : ExpectedCommitBytes(2), cache.LastCommitBytes);   // written on the host: nothing bound
        }
        Assert.Equal(Row(36, 1, 1, 1, 1), cache.ReadRow(1, 1, 1, 37));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void AReturnedCacheComesBackEmptyWithTheStridesOfAFreshOne(bool onHost)
    {
        var graphs = onHost ? _hostWrites : _graphWrites;
        var first = Rent(onHost, capacity: 20, maxWindow: 4, strideStep: 4);
        FillWindow(first, window: 4, pass: 7);
        first.Grow(8);
        first.QueueCommit([0, 1, 2, 3], length: 4, window: 4);
        first.Flush();
        graphs.ReturnCache(first);
        using var second = Rent(onHost, capacity: 10, maxWindow: 3, strideStep: 3);
        Assert.Same(first, second);
        Assert.Equal(3, second.Stride);
        for (int t = 0; t < Tensors; t++)
            for (int p = 0; p < 3; p++) Assert.Equal(new float[HeadDim], second.ReadRow(t, 1, 1, p));
        second.Grow(10);
        second.Flush();
        Assert.Equal(10, second.Stride);                                // capped at this generation's capacity, not the buffer's
        using var third = Rent(onHost, capacity: 10, maxWindow: 3, strideStep: 3);
        Assert.NotSame(second, third);                                  // rented caches are not shared
    }

    private DeviceKvCache Rent(bool onHost, int capacity, int maxWindow, int strideStep) =>
        (onHost ? _hostWrites : _graphWrites).RentCache(Batch, Heads, HeadDim, capacity, maxWindow, strideStep);

    private static long ExpectedCommitBytes(int kept) => (kept + Tensors * Batch * Heads * kept * 4) * sizeof(long);

    private static float[] Row(int pass, int t, int b, int h, int j) =>
        [.. Enumerable.Range(0, HeadDim).Select(d => pass * 10000f + t * 1000 + b * 100 + h * 10 + j + d / 10f)];

    private static void FillWindow(DeviceKvCache cache, int window, int pass)
    {
        for (int t = 0; t < Tensors; t++)
        {
            var rows = cache.NewRows(t, window);
            var span = rows.GetTensorMutableDataAsSpan<float>();
            for (int b = 0; b < Batch; b++)
                for (int h = 0; h < Heads; h++)
                    for (int j = 0; j < window; j++)
                        Row(pass, t, b, h, j).CopyTo(span.Slice(((b * Heads + h) * window + j) * HeadDim, HeadDim));
        }
    }

    public void Dispose()
    {
        _hostWrites.Dispose();
        _graphWrites.Dispose();
        _options.Dispose();
        _run.Dispose();
    }
}
