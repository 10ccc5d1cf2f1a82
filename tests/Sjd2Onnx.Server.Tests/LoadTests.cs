using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Sjd2Onnx.Server.Tests.Support;
using Xunit.Abstractions;

namespace Sjd2Onnx.Server.Tests;

/// <summary>A bounded load test on 127.0.0.1: 50 concurrent requests against 2 slots and a queue of 8.</summary>
[Collection(KestrelCollection.Name)]
public class LoadTests(ITestOutputHelper output)
{
    private const int Requests = 50, MaxConcurrent = 2, Queue = 8;

    [Fact]
    public async Task EveryRequestEndsIn200Or429AndMemorySettles()
    {
        await using var host = await ServerHost.KestrelAsync(ServerHost.Options(TestPaths.DefaultModel, MaxConcurrent, Queue));
        using var warmUp = await host.Client.PostAsJsonAsync("/v1/images/generations", new { prompt = "a red circle", method = "ar", seed = 0 });
        Assert.Equal(HttpStatusCode.OK, warmUp.StatusCode);
        long baseline = ManagedBytesAfterCollection();

        var first = await Wave(host, 1);
        long afterFirst = ManagedBytesAfterCollection();
        var second = await Wave(host, 2);
        long afterSecond = ManagedBytesAfterCollection();

        var health = await CancellationTests.WaitForIdleAsync(host.Client, TimeSpan.FromMinutes(1));
        Assert.Equal(1 + first.Ok + second.Ok, health.GetProperty("completed").GetInt32());
        Assert.Equal(first.Rejected + second.Rejected, health.GetProperty("rejected").GetInt32());
        output.WriteLine($"managed heap after a full collection: {Mb(baseline)} before, {Mb(afterFirst)} after wave 1, {Mb(afterSecond)} after wave 2; " +
            $"working set {Mb(Process.GetCurrentProcess().WorkingSet64)}");
        // Nothing is kept per request: a second wave must not leave more behind than the first.
        Assert.True(afterSecond < afterFirst + (16 << 20), $"managed heap grew from {Mb(afterFirst)} to {Mb(afterSecond)} over the second wave");
        Assert.True(afterFirst < baseline + (64 << 20), $"managed heap grew from {Mb(baseline)} to {Mb(afterFirst)} over the first wave");
    }

    private async Task<(int Ok, int Rejected)> Wave(ServerHost host, int wave)
    {
        var clock = Stopwatch.StartNew();
        var tasks = Enumerable.Range(0, Requests).Select(i => Task.Run(async () =>
        {
            // Each request gets its own deadline: a hung request fails the test instead of stalling it.
            using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(4));
            using var response = await host.Client.PostAsJsonAsync("/v1/images/generations",
                new { prompt = "a red circle above a blue square", method = "ar", seed = wave * 1000 + i }, deadline.Token);
            string? retryAfter = response.Headers.RetryAfter?.Delta is { } d ? d.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture) : null;
            string body = await response.Content.ReadAsStringAsync(deadline.Token);
            return (response.StatusCode, retryAfter, body, clock.Elapsed);
        })).ToList();
        var results = await Task.WhenAll(tasks);

        foreach (var (status, retryAfter, body, _) in results)
        {
            Assert.True(status is HttpStatusCode.OK or HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable, $"{(int)status}: {body}");
            if (status == HttpStatusCode.OK) continue;
            Assert.NotNull(retryAfter);
            Assert.True(double.Parse(retryAfter, System.Globalization.CultureInfo.InvariantCulture) >= 1);
            Assert.Equal("rate_limit_exceeded", JsonDocument.Parse(body).RootElement.GetProperty("error").GetProperty("code").GetString());
        }
        int ok = results.Count(r => r.StatusCode == HttpStatusCode.OK), rejected = Requests - ok;
        var rejectedTimes = results.Where(r => r.StatusCode != HttpStatusCode.OK).Select(r => r.Elapsed.TotalMilliseconds).DefaultIfEmpty(0);
        output.WriteLine($"wave {wave}: {ok} x 200, {rejected} x 429 in {clock.Elapsed.TotalSeconds:F1} s; " +
            $"slowest rejection {rejectedTimes.Max():F0} ms, slowest 200 {results.Where(r => r.StatusCode == HttpStatusCode.OK).Max(r => r.Elapsed.TotalMilliseconds):F0} ms");
        // All that was admitted (2 running + 8 queued at least) finished; the 50 requests arrive long
        // before 10 AR images (256 passes each) are done, so some had to be turned away.
        Assert.InRange(ok, MaxConcurrent + Queue, Requests - 1);
        return (ok, rejected);
    }

    private static long ManagedBytesAfterCollection()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        return GC.GetGCMemoryInfo(GCKind.FullBlocking).HeapSizeBytes;
    }

    private static string Mb(long bytes) => $"{bytes / (1024.0 * 1024.0):F1} MB";
}
