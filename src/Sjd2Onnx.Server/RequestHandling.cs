using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Sjd2Onnx.Server;

/// <summary>
/// The outermost middleware: logs every request (method, path, status, time) through
/// <see cref="ILogger"/> and turns failures into OpenAI-shaped error answers.
/// </summary>
internal sealed class RequestHandling(RequestDelegate next, ILoggerFactory loggers, IHostApplicationLifetime lifetime)
{
    /// <summary>Logged as the status of a request whose client went away (nginx's convention).</summary>
    public const int ClientClosedRequest = 499;

    private readonly ILogger _log = loggers.CreateLogger(Sjd2Server.LogCategory);

    public async Task InvokeAsync(HttpContext http)
    {
        long start = Stopwatch.GetTimestamp();
        int? status = null;
        try
        {
            await next(http);
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            status = ClientClosedRequest; // nobody to answer; the generation was stopped
        }
        catch (OperationCanceledException) when (lifetime.ApplicationStopping.IsCancellationRequested)
        {
            status = await AnswerAsync(http, new ApiException(StatusCodes.Status503ServiceUnavailable,
                "the server is shutting down; retry on another instance.", type: "server_error")
            { RetryAfterSeconds = 5 });
        }
        catch (ApiException e)
        {
            status = await AnswerAsync(http, e);
        }
        catch (Sjd2Exception e)
        {
            status = await AnswerAsync(http, new ApiException(StatusCodes.Status400BadRequest, e.Message, SettingError.KeyOf(e)));
        }
        catch (BadHttpRequestException e)
        {
            // Kestrel's own limits, e.g. a body over MaxRequestBodySize.
            status = await AnswerAsync(http, new ApiException(e.StatusCode, e.Message));
        }
        catch (Exception e)
        {
            _log.LogError(e, "{Method} {Path} failed", http.Request.Method, http.Request.Path);
            status = await AnswerAsync(http, new ApiException(StatusCodes.Status500InternalServerError,
                "internal error; the server log has the details.", type: "server_error"));
        }
        _log.LogInformation("{Method} {Path} -> {Status} in {Ms:F0} ms", http.Request.Method, http.Request.Path,
            status ?? http.Response.StatusCode, Stopwatch.GetElapsedTime(start).TotalMilliseconds);
    }

    private static async Task<int> AnswerAsync(HttpContext http, ApiException error)
    {
        if (http.Response.HasStarted)
        {
            // An event stream is under way: end it with an error event instead of a status.
            if (http.Response.ContentType == ServerSentEvents.ContentType)
            {
                try { await ServerSentEvents.WriteAsync(http.Response, "error", error.ToJson(), http.RequestAborted); }
                catch (Exception e) when (e is IOException or OperationCanceledException) { }
            }
            return http.Response.StatusCode;
        }
        http.Response.Clear();
        await error.WriteAsync(http.Response, http.RequestAborted);
        return error.Status;
    }
}
