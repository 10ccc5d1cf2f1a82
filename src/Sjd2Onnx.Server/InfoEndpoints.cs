using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Sjd2Onnx.Server;

/// <summary>The page (<c>GET /</c>), <c>/health</c>, <c>/api/info</c> and OpenAI's <c>/v1/models</c>.</summary>
internal static class InfoEndpoints
{
    private const string PageResource = "Sjd2Onnx.Server.index.html";

    // The page loads nothing from elsewhere; the browser is told to refuse it if it ever tried.
    private const string PagePolicy = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; " +
        "img-src data: blob:; connect-src 'self'; base-uri 'none'; form-action 'none'";

    private static readonly Lazy<byte[]> Page = new(() =>
    {
        using var stream = typeof(InfoEndpoints).Assembly.GetManifestResourceStream(PageResource)
            ?? throw new InvalidOperationException($"embedded resource {PageResource} is missing");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    });

    public static void Map(WebApplication app)
    {
        app.MapGet("/", async (HttpContext http) =>
        {
            http.Response.ContentType = "text/html; charset=utf-8";
            http.Response.Headers.ContentSecurityPolicy = PagePolicy;
            http.Response.Headers.CacheControl = "no-cache";
            await http.Response.Body.WriteAsync(Page.Value, http.RequestAborted);
        });

        app.MapGet("/health", (Sjd2Pipeline pipeline, GenerationGate gate) => Results.Json(new JsonObject
        {
            ["status"] = "ok",
            ["model"] = pipeline.Manifest.Name,
            ["running"] = gate.Running,
            ["queued"] = gate.Queued,
            ["completed"] = gate.Completed,
            ["cancelled"] = gate.Cancelled,
            ["rejected"] = gate.Rejected,
            ["failed"] = gate.Failed,
        }, JsonOutput.Options));

        app.MapGet("/api/info", (Sjd2Pipeline pipeline, ServerOptions limits) => Results.Json(Info(pipeline, limits), JsonOutput.Options));

        app.MapGet("/v1/models", (Sjd2Pipeline pipeline) => Results.Json(new JsonObject
        {
            ["object"] = "list",
            ["data"] = new JsonArray(ModelObject(pipeline)),
        }, JsonOutput.Options));

        app.MapGet("/v1/models/{id}", (string id, Sjd2Pipeline pipeline) => id == pipeline.Manifest.Name
            ? Results.Json(ModelObject(pipeline), JsonOutput.Options)
            : Results.Json(ApiException.Body($"the model '{id}' does not exist here; this server serves '{pipeline.Manifest.Name}' (GET /v1/models).",
                ApiException.InvalidRequest, "model", "model_not_found"), JsonOutput.Options, statusCode: StatusCodes.Status404NotFound));

        // Unknown API paths answer in the API's error shape; a known path asked with another method is a 405.
        app.MapFallback("/v1/{**rest}", (HttpContext http) =>
        {
            string path = http.Request.Path.Value?.TrimEnd('/') ?? "";
            string? allow = path.Equals(ImageEndpoints.GenerationsPath, StringComparison.OrdinalIgnoreCase)
                || path.Equals(ImageEndpoints.StreamPath, StringComparison.OrdinalIgnoreCase) ? "POST"
                : path.StartsWith("/v1/models", StringComparison.OrdinalIgnoreCase) ? "GET" : null;
            if (allow is not null)
            {
                http.Response.Headers.Allow = allow;
                return Results.Json(ApiException.Body($"{path} takes {allow}, not {http.Request.Method}.", ApiException.InvalidRequest),
                    JsonOutput.Options, statusCode: StatusCodes.Status405MethodNotAllowed);
            }
            return Results.Json(
                ApiException.Body($"no endpoint {http.Request.Method} {http.Request.Path}; see GET /api/info.", ApiException.InvalidRequest),
                JsonOutput.Options, statusCode: StatusCodes.Status404NotFound);
        });
    }

    private static JsonObject ModelObject(Sjd2Pipeline pipeline) => new()
    {
        ["id"] = pipeline.Manifest.Name,
        ["object"] = "model",
        ["created"] = 0,
        ["owned_by"] = "sjd2onnx",
    };

    private static JsonObject Info(Sjd2Pipeline pipeline, ServerOptions limits)
    {
        var m = pipeline.Manifest;
        var methods = new JsonArray("ar", "sjd", "sjd++", "pac");
        if (m.Sjd2 is not null) methods.Add("sjd2");
        return new JsonObject
        {
            ["model"] = m.Name,
            ["description"] = m.Description,
            ["size"] = $"{m.Image.Width}x{m.Image.Height}",
            ["rows"] = m.Image.GridHeight,
            ["cols"] = m.Image.GridWidth,
            ["codebook_size"] = m.Image.CodebookSize,
            ["max_prompt_tokens"] = m.Tokenizer.MaxPromptTokens,
            ["methods"] = methods,
            ["default_method"] = GenerationRequestReader.MethodName(GenerationRequestReader.DefaultMethod),
            // Without it "pac" decodes chain drafts (the model was exported before tree attention).
            ["tree_attention"] = pipeline.SupportsTreeAttention,
            ["sampling"] = new JsonObject
            {
                ["cfg"] = m.Sampling.CfgScale,
                ["temperature"] = m.Sampling.Temperature,
                ["top_k"] = m.Sampling.TopK,
                ["top_p"] = m.Sampling.TopP,
            },
            ["limits"] = new JsonObject
            {
                ["max_concurrent"] = limits.MaxConcurrent,
                ["queue"] = limits.QueueLimit,
                ["max_n"] = limits.MaxImagesPerRequest,
                ["max_prompt_chars"] = limits.MaxPromptChars,
                ["max_body_bytes"] = limits.MaxBodyBytes,
            },
            ["endpoints"] = new JsonArray(
                $"POST {ImageEndpoints.GenerationsPath}", $"POST {ImageEndpoints.StreamPath}", "GET /v1/models", "GET /v1/models/{id}", "GET /health", "GET /api/info", "GET /"),
            ["fields"] = new JsonArray([.. GenerationRequestReader.KnownFields.Select(f => (JsonNode?)f)]),
        };
    }
}
