using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Sjd2Onnx.Server;

/// <summary>Writes server-sent events: <c>event: NAME</c>, one <c>data:</c> line of JSON, a blank line.</summary>
internal static class ServerSentEvents
{
    public const string ContentType = "text/event-stream";

    /// <summary>Sets the headers of an event stream; nothing is cached or buffered on the way.</summary>
    public static void Begin(HttpResponse response)
    {
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = ContentType;
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no"; // reverse proxies: pass events on at once
    }

    public static async Task WriteAsync(HttpResponse response, string name, JsonNode data, CancellationToken cancellationToken)
    {
        await response.WriteAsync($"event: {name}\ndata: {data.ToJsonString(JsonOutput.Options)}\n\n", cancellationToken);
        await response.Body.FlushAsync(cancellationToken);
    }
}
