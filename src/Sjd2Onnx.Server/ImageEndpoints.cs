using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Sjd2Onnx.Imaging;

namespace Sjd2Onnx.Server;

/// <summary>
/// <c>POST /v1/images/generations</c> (the OpenAI images API, finished PNGs as b64_json) and
/// <c>POST /v1/images/generations/stream</c> (server-sent events: one per pass, then the PNG).
/// </summary>
internal static class ImageEndpoints
{
    public const string GenerationsPath = "/v1/images/generations";
    public const string StreamPath = "/v1/images/generations/stream";

    public static void Map(WebApplication app)
    {
        app.MapPost(GenerationsPath, GenerateAsync);
        app.MapPost(StreamPath, StreamAsync);
    }

    private static async Task GenerateAsync(HttpContext http, Sjd2Pipeline pipeline, GenerationGate gate, ServerOptions limits,
        IHostApplicationLifetime lifetime, ILoggerFactory loggers)
    {
        var log = loggers.CreateLogger(Sjd2Server.LogCategory);
        var request = await GenerationRequestReader.ReadAsync(http.Request, limits, pipeline, streaming: false, http.RequestAborted);
        using var slot = await EnterAsync(gate, http.RequestAborted);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, lifetime.ApplicationStopping);
        var data = new JsonArray();
        try
        {
            for (int i = 0; i < request.Count; i++)
            {
                var options = request.Options with { Seed = request.Options.Seed + (ulong)i };
                var result = await StartGeneration(pipeline, request.Prompt, options, null, stop.Token);
                var item = Describe(result, options);
                item["b64_json"] = Convert.ToBase64String(PngFile.Encode(result.Image));
                item["revised_prompt"] = request.Prompt;
                data.Add(item);
                LogGenerated(log, options, result);
            }
        }
        catch (OperationCanceledException)
        {
            slot.Outcome = GenerationOutcome.Cancelled;
            log.LogInformation("cancelled: {Method}, seed {Seed}, after {Images} of {Count} images",
                GenerationRequestReader.MethodName(request.Options.Method), request.Options.Seed, data.Count, request.Count);
            throw;
        }
        slot.Outcome = GenerationOutcome.Completed;
        var body = new JsonObject { ["created"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(), ["data"] = data };
        http.Response.ContentType = "application/json";
        await http.Response.WriteAsync(body.ToJsonString(JsonOutput.Options), http.RequestAborted);
    }

    private static async Task StreamAsync(HttpContext http, Sjd2Pipeline pipeline, GenerationGate gate, ServerOptions limits,
        IHostApplicationLifetime lifetime, ILoggerFactory loggers)
    {
        var log = loggers.CreateLogger(Sjd2Server.LogCategory);
        var request = await GenerationRequestReader.ReadAsync(http.Request, limits, pipeline, streaming: true, http.RequestAborted);
        using var slot = await EnterAsync(gate, http.RequestAborted);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, lifetime.ApplicationStopping);
        var progress = new StreamProgress(pipeline.Manifest);
        // Option errors surface here, before the stream starts, as a plain 400.
        var generation = StartGeneration(pipeline, request.Prompt, request.Options, progress, stop.Token);
        _ = generation.ContinueWith(_ => progress.Complete(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        try
        {
            await WriteStreamAsync(http.Response, pipeline, request, progress, generation, log, stop.Token);
            slot.Outcome = GenerationOutcome.Completed;
        }
        catch (OperationCanceledException)
        {
            slot.Outcome = GenerationOutcome.Cancelled;
            throw;
        }
        catch (IOException)
        {
            // Writing to a client that went away: drop the connection so that it counts as gone.
            slot.Outcome = GenerationOutcome.Cancelled;
            http.Abort();
            throw new OperationCanceledException(http.RequestAborted);
        }
        finally
        {
            // The slot is freed only once the ONNX run has stopped.
            stop.Cancel();
            try { await generation; }
            catch (Exception) when (!generation.IsCompletedSuccessfully) { }
            if (slot.Outcome == GenerationOutcome.Cancelled)
                log.LogInformation("cancelled: {Method}, seed {Seed}, stopped after {Passes} passes",
                    GenerationRequestReader.MethodName(request.Options.Method), request.Options.Seed, progress.LastPass);
        }
    }

    private static async Task WriteStreamAsync(HttpResponse response, Sjd2Pipeline pipeline, GenerationRequest request,
        StreamProgress progress, Task<GenerationResult> generation, ILogger log, CancellationToken cancellationToken)
    {
        var image = pipeline.Manifest.Image;
        ServerSentEvents.Begin(response);
        await ServerSentEvents.WriteAsync(response, "start", new JsonObject
        {
            ["method"] = GenerationRequestReader.MethodName(request.Options.Method),
            ["seed"] = request.Options.Seed,
            ["rows"] = image.GridHeight,
            ["cols"] = image.GridWidth,
            ["width"] = image.Width,
            ["height"] = image.Height,
            ["total"] = image.CodeCount,
        }, cancellationToken);

        await foreach (var pass in progress.Reader.ReadAllAsync(cancellationToken))
        {
            var data = new JsonObject
            {
                ["pass"] = pass.Pass,
                ["committed"] = pass.CommittedCodes,
                ["total"] = image.CodeCount,
                ["elapsed_ms"] = Math.Round(pass.Elapsed.TotalMilliseconds, 1),
            };
            // Preview only the newest pass: when the client or the VQ decoder falls behind, stale
            // previews are skipped instead of piling up (every pass's counts are still sent).
            if (!request.Previews) data["codes"] = new JsonArray([.. pass.Codes.Select(c => (JsonNode?)c)]);
            else if (!progress.Reader.TryPeek(out _))
                data["preview"] = Convert.ToBase64String(PngFile.Encode(pipeline.DecodeImage(pass.Codes)));
            await ServerSentEvents.WriteAsync(response, "pass", data, cancellationToken);
        }

        GenerationResult result;
        try
        {
            result = await generation;
        }
        catch (Sjd2Exception e)
        {
            await ServerSentEvents.WriteAsync(response, "error", ApiException.Body(e.Message, ApiException.InvalidRequest), cancellationToken);
            return;
        }
        var done = Describe(result, request.Options);
        done["committed_per_pass"] = CodesPerPass(result.Statistics.CommittedPerPass, progress);
        done["b64_json"] = Convert.ToBase64String(PngFile.Encode(result.Image));
        await ServerSentEvents.WriteAsync(response, "done", done, cancellationToken);
        LogGenerated(log, request.Options, result);
    }

    /// <summary>Codes (not slots: end-of-line tokens left out) committed by each pass.</summary>
    private static JsonArray CodesPerPass(IReadOnlyList<int> slotsPerPass, StreamProgress progress)
    {
        var codes = new JsonArray();
        int slots = 0, before = 0;
        foreach (int s in slotsPerPass)
        {
            slots += s;
            int now = progress.CommittedCodes(slots);
            codes.Add(now - before);
            before = now;
        }
        return codes;
    }

    /// <summary>Starts a generation; the engine's option errors become a 400.</summary>
    private static Task<GenerationResult> StartGeneration(Sjd2Pipeline pipeline, string prompt, GenerationOptions options,
        IProgress<Decoding.DecodeProgress>? progress, CancellationToken cancellationToken)
    {
        try
        {
            return pipeline.GenerateAsync(prompt, options, progress, cancellationToken);
        }
        catch (Sjd2Exception e)
        {
            throw new ApiException(StatusCodes.Status400BadRequest, e.Message);
        }
    }

    private static async Task<GenerationSlot> EnterAsync(GenerationGate gate, CancellationToken cancellationToken)
    {
        return await gate.EnterAsync(cancellationToken) ?? throw new ApiException(StatusCodes.Status429TooManyRequests,
            $"the server is busy: {gate.Running} generations running and {gate.Queued} waiting, the queue is full; retry later.",
            type: "requests", code: "rate_limit_exceeded")
        { RetryAfterSeconds = gate.RetryAfterSeconds() };
    }

    /// <summary>Our numbers about one image (extra fields beside OpenAI's).</summary>
    private static JsonObject Describe(GenerationResult result, GenerationOptions options) => new()
    {
        ["method"] = GenerationRequestReader.MethodName(options.Method),
        ["seed"] = options.Seed,
        ["passes"] = result.Statistics.Passes,
        ["time_ms"] = Math.Round(result.Statistics.TotalTime.TotalMilliseconds, 1),
        ["onnx_ms"] = Math.Round(result.Statistics.OnnxTime.TotalMilliseconds, 1),
        ["tokens_per_pass"] = Math.Round(result.Statistics.MeanAcceptedPerPass, 2),
    };

    private static void LogGenerated(ILogger log, GenerationOptions options, GenerationResult result) =>
        log.LogInformation("generated: {Method}, seed {Seed}, {Passes} passes, {Ms:F0} ms",
            GenerationRequestReader.MethodName(options.Method), options.Seed, result.Statistics.Passes, result.Statistics.TotalTime.TotalMilliseconds);
}
