using Sjd2Onnx.Decoding;
using Sjd2Onnx.Tests.Support;

namespace Sjd2Onnx.Tests;

/// <summary>
/// <see cref="Sjd2Pipeline.Dispose"/> cancels generations in flight instead of waiting for them to
/// finish, never lets a run touch a disposed session, and the pipeline's buffer pool reuses its arrays.
/// </summary>
public class PipelineLifetimeTests
{
    private const string Prompt = "a red circle";

    [Fact]
    public async Task DisposeCancelsAGenerationInFlight()
    {
        var pipeline = Sjd2Pipeline.Load(TestPaths.Model("tiny"));
        using var firstReport = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        int reports = 0;
        var progress = new Inline(p =>
        {
            Interlocked.Increment(ref reports);
            firstReport.Set();
            release.Wait(TimeSpan.FromSeconds(30)); // the generation stands still until Dispose has begun
        });
        var generation = pipeline.GenerateAsync(Prompt, new GenerationOptions { Seed = 1, Decoding = new ArOptions() }, progress);
        Assert.True(firstReport.Wait(TimeSpan.FromSeconds(30)), "no progress report");

        var dispose = Task.Run(pipeline.Dispose);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!pipeline.IsDisposing && DateTime.UtcNow < deadline) await Task.Delay(5);
        Assert.True(pipeline.IsDisposing);
        Assert.False(dispose.IsCompleted, "Dispose must wait for the run in flight");
        release.Set();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => generation);
        Assert.True(await Task.WhenAny(dispose, Task.Delay(TimeSpan.FromSeconds(30))) == dispose, "Dispose did not return");
        Assert.True(reports < 16, $"the generation ran on to the end ({reports} reports)");
        await Assert.ThrowsAsync<ObjectDisposedException>(() => pipeline.GenerateAsync(Prompt));
        Assert.Throws<ObjectDisposedException>(() => pipeline.DecodeImage(new int[16]));
    }

    [Fact]
    public async Task DisposeFromAProgressCallbackDoesNotDeadlock()
    {
        var pipeline = Sjd2Pipeline.Load(TestPaths.Model("tiny"));
        var progress = new Inline(_ => pipeline.Dispose());
        var generation = pipeline.GenerateAsync(Prompt, new GenerationOptions { Seed = 2, Decoding = new SjdOptions() }, progress);
        Assert.True(await Task.WhenAny(generation, Task.Delay(TimeSpan.FromSeconds(30))) == generation, "deadlock");
        await Assert.ThrowsAsync<ObjectDisposedException>(() => generation);
        pipeline.Dispose(); // twice is fine
    }

    [Fact]
    public async Task ConcurrentGenerationsAllEndWhenDisposed()
    {
        var pipeline = Sjd2Pipeline.Load(TestPaths.Model("tiny"));
        var tasks = Enumerable.Range(0, 4).Select(i => pipeline.GenerateAsync(Prompt, new GenerationOptions { Seed = (ulong)i, Decoding = new Sjd2Options() })).ToList();
        pipeline.Dispose();
        foreach (var t in tasks)
        {
            try { Assert.Equal(16, (await t).Codes.Length); } // finished before the dispose
            catch (ObjectDisposedException) { }
        }
    }

    [Fact]
    public async Task GenerationsReuseThePooledBuffers()
    {
        using var pipeline = Sjd2Pipeline.Load(TestPaths.Model("tiny"));
        Assert.Equal(0, pipeline.PooledBufferBytes);
        var first = await pipeline.GenerateAsync(Prompt, new GenerationOptions { Seed = 5, Decoding = new Sjd2Options() });
        long pooled = pipeline.PooledBufferBytes;
        Assert.True(pooled > 0, "the buffers of a finished generation are kept");
        // Pooled arrays come back zeroed: the same seed gives the same codes.
        var again = await pipeline.GenerateAsync(Prompt, new GenerationOptions { Seed = 5, Decoding = new Sjd2Options() });
        Assert.Equal(first.Codes, again.Codes);
        Assert.Equal(pooled, pipeline.PooledBufferBytes);
    }

    [Fact]
    public void BufferPoolReusesZeroedArraysAndKeepsAtMostTwiceItsPeak()
    {
        var pool = new BufferPool();
        var a = pool.Rent(5000);
        Assert.True(a.Length >= 5000 && a.Length <= 5000 + 5000 / 8);
        a[17] = 3;
        pool.Return(a);
        var b = pool.Rent(4900); // rounds to the same size
        Assert.Same(a, b);
        Assert.All(b, v => Assert.Equal(0f, v));
        using (var lease = pool.NewLease())
        {
            lease.Floats(5000);
            lease.Floats(100_000);
        }
        pool.Return(b);
        var c = pool.Rent(4500); // a free array up to a quarter longer is taken
        Assert.Same(b, c);
        pool.Return(c);
        long peak = 4L * (b.Length + b.Length + 100_000 + 100_000 / 8);
        Assert.True(pool.PooledBytes <= 2 * peak);
    }

    private sealed class Inline(Action<DecodeProgress> report) : IProgress<DecodeProgress>
    {
        public void Report(DecodeProgress value) => report(value);
    }
}
