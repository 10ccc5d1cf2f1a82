using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Sjd2Onnx.Server.Tests.Support;

namespace Sjd2Onnx.Server.Tests;

/// <summary>A client that goes away stops its generation (the ONNX run is terminated) and frees its slot.</summary>
[Collection(KestrelCollection.Name)]
public partial class CancellationTests
{
    [Fact]
    public async Task HangingUpStopsTheGeneration()
    {
        // 32 AR images of the default model: seconds of work on any machine, cut short by the client.
        await using var host = await ServerHost.KestrelAsync(ServerHost.Options(TestPaths.DefaultModel) with { MaxImagesPerRequest = 32 });
        using var hangUp = new CancellationTokenSource();
        var pending = host.Client.PostAsJsonAsync("/v1/images/generations", new { prompt = "a red circle", method = "ar", n = 32, seed = 1 }, hangUp.Token);
        await WaitUntilRunningAsync(host.Client);
        hangUp.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending);

        var health = await WaitForIdleAsync(host.Client, TimeSpan.FromMinutes(2));
        Assert.True(health.GetProperty("cancelled").GetInt32() == 1, $"{health}");
        Assert.Equal(0, health.GetProperty("completed").GetInt32());
        string line = Assert.Single(host.Logs.Lines, l => l.StartsWith("cancelled: ar", StringComparison.Ordinal));
        Assert.InRange(int.Parse(ImagesDone().Match(line).Groups[1].Value), 0, 31);
        await WaitForLogAsync(host, "POST /v1/images/generations -> 499");

        // The slot is free: the next request runs.
        using var next = await host.Client.PostAsJsonAsync("/v1/images/generations", new { prompt = "a red circle", method = "sjd", seed = 2 });
        Assert.Equal(System.Net.HttpStatusCode.OK, next.StatusCode);
    }

    [Fact]
    public async Task HangingUpOnTheStreamFreesTheSlot()
    {
        await using var host = await ServerHost.KestrelAsync(ServerHost.Options(TestPaths.DefaultModel));
        using (var message = new HttpRequestMessage(HttpMethod.Post, "/v1/images/generations/stream")
        {
            Content = new StringContent("""{"prompt": "a red circle above a blue square", "method": "ar", "seed": 1}""", Encoding.UTF8, "application/json"),
        })
        using (var response = await host.Client.SendAsync(message, HttpCompletionOption.ResponseHeadersRead))
        {
            await foreach (var e in ServerSentEvent.ReadAllAsync(await response.Content.ReadAsStreamAsync()))
                if (e.Name == "pass") break; // seen it start; now hang up
        }
        // Whether the decoder finished before the hang-up was noticed depends on the machine's speed;
        // either way the request ends and its slot is freed.
        var health = await WaitForIdleAsync(host.Client, TimeSpan.FromMinutes(2));
        Assert.Equal(1, health.GetProperty("cancelled").GetInt32() + health.GetProperty("completed").GetInt32());
        using var next = await host.Client.PostAsJsonAsync("/v1/images/generations", new { prompt = "a red circle", method = "sjd", seed = 2 });
        Assert.Equal(System.Net.HttpStatusCode.OK, next.StatusCode);
    }

    private static async Task WaitUntilRunningAsync(HttpClient client)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        while ((await client.GetFromJsonAsync<JsonElement>("/health")).GetProperty("running").GetInt32() == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "the generation never started");
            await Task.Delay(20);
        }
    }

    private static async Task WaitForLogAsync(ServerHost host, string prefix)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        while (!host.Logs.Lines.Any(l => l.StartsWith(prefix, StringComparison.Ordinal)))
        {
            Assert.True(DateTime.UtcNow < deadline, $"no log line '{prefix}': {string.Join("\n", host.Logs.Lines)}");
            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task StoppingTheServerCancelsGenerationsWith503()
    {
        await using var host = await ServerHost.KestrelAsync(ServerHost.Options(TestPaths.DefaultModel) with { MaxImagesPerRequest = 32 });
        // 32 AR images: far more work than it takes to see it running and stop the server, even on
        // a loaded CI machine (four images, 1.9 s there, once finished before the stop arrived).
        var pending = host.Client.PostAsJsonAsync("/v1/images/generations", new { prompt = "a red circle", method = "ar", n = 32, seed = 3 });
        await WaitUntilRunningAsync(host.Client);
        var stopping = host.App.StopAsync();
        using var response = await pending;
        await stopping;
        var error = await ImageApiTests.AssertOpenAiError(response, System.Net.HttpStatusCode.ServiceUnavailable);
        Assert.Equal("server_error", error.GetProperty("type").GetString());
        Assert.NotNull(response.Headers.RetryAfter);
    }

    internal static async Task<JsonElement> WaitForIdleAsync(HttpClient client, TimeSpan limit)
    {
        var deadline = DateTime.UtcNow + limit;
        while (true)
        {
            var health = await client.GetFromJsonAsync<JsonElement>("/health");
            if (health.GetProperty("running").GetInt32() == 0 && health.GetProperty("queued").GetInt32() == 0) return health;
            if (DateTime.UtcNow > deadline) Assert.Fail($"the server is still busy after {limit}: {health}");
            await Task.Delay(50);
        }
    }

    [GeneratedRegex(@"after (\d+) of 32 images")]
    private static partial Regex ImagesDone();
}
