using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Sjd2Onnx.Server;

/// <summary>
/// A request the server refuses, answered in the OpenAI error shape:
/// <c>{"error": {"message", "type", "param", "code"}}</c>.
/// </summary>
internal sealed class ApiException(int status, string message, string? param = null,
    string type = ApiException.InvalidRequest, string? code = null) : Exception(message)
{
    public const string InvalidRequest = "invalid_request_error";

    /// <summary>HTTP status of the answer.</summary>
    public int Status { get; } = status;

    /// <summary>The request field at fault, if one is.</summary>
    public string? Param { get; } = param;

    /// <summary>OpenAI's error type, e.g. invalid_request_error.</summary>
    public string Type { get; } = type;

    /// <summary>A machine-readable code, e.g. rate_limit_exceeded.</summary>
    public string? Code { get; } = code;

    /// <summary>For 429 and 503: seconds after which a retry may succeed (sent as Retry-After).</summary>
    public int? RetryAfterSeconds { get; init; }

    /// <summary>The error body.</summary>
    public JsonObject ToJson() => Body(Message, Type, Param, Code);

    public static JsonObject Body(string message, string type, string? param = null, string? code = null) => new()
    {
        ["error"] = new JsonObject
        {
            ["message"] = message,
            ["type"] = type,
            ["param"] = param,
            ["code"] = code,
        },
    };

    /// <summary>Writes the error as the whole response.</summary>
    public Task WriteAsync(HttpResponse response, CancellationToken cancellationToken)
    {
        response.StatusCode = Status;
        if (RetryAfterSeconds is int seconds) response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        response.ContentType = "application/json";
        return response.WriteAsync(ToJson().ToJsonString(JsonOutput.Options), cancellationToken);
    }
}
