using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Sjd2Onnx.Model;

namespace Sjd2Onnx.Server;

/// <summary>
/// Reads the JSON body of an image request: OpenAI's fields (prompt, n, size, response_format, …)
/// and ours (method, seed, cfg, window, …), with a clear 400 naming the field for anything wrong.
/// </summary>
internal static class GenerationRequestReader
{
    // OpenAI fields that change nothing here: accepted so that existing clients work unchanged.
    private static readonly HashSet<string> IgnoredOpenAiFields =
        ["model", "quality", "style", "user", "background", "moderation", "output_compression", "partial_images"];

    /// <summary>The fields of a request: the engine's settings (<see cref="SettingsBinder.Keys"/>) and the server's own.</summary>
    public static IReadOnlyList<string> KnownFields { get; } =
        ["prompt", "n", "size", "response_format", "output_format", "stream", .. SettingsBinder.Keys, "previews"];

    /// <summary>The method used when a request names none: the engine's default, as in every front end.</summary>
    public static DecodingMethod DefaultMethod => GenerationOptions.DefaultMethod;

    public static async Task<GenerationRequest> ReadAsync(HttpRequest request, ServerOptions limits, Sjd2Pipeline pipeline,
        bool streaming, CancellationToken cancellationToken)
    {
        if (request.ContentType is { } type && !type.Contains("json", StringComparison.OrdinalIgnoreCase))
            throw new ApiException(StatusCodes.Status415UnsupportedMediaType, $"the body must be JSON (Content-Type: application/json), not {type}.");
        byte[] body = await ReadBodyAsync(request, limits.MaxBodyBytes, cancellationToken);
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 8 });
        }
        catch (JsonException e)
        {
            throw new ApiException(StatusCodes.Status400BadRequest, $"the body is not valid JSON: {e.Message}");
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new ApiException(StatusCodes.Status400BadRequest, "the body must be a JSON object such as {\"prompt\": \"a red circle\"}.");
            CheckText(doc.RootElement, null);
            return Parse(new Fields(doc.RootElement), limits, pipeline, streaming);
        }
    }

    // Every name and string must be Unicode text: a lone surrogate ("\ud800") or bytes that are not
    // UTF-8 parse as JSON but cannot be read as a string. The field at fault is the top-level one.
    private static void CheckText(JsonElement element, string? field)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    string name = ReadText(() => property.Name, field, "a field name");
                    CheckText(property.Value, field ?? name);
                }
                break;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray()) CheckText(item, field);
                break;
            case JsonValueKind.String:
                ReadText(() => element.GetString()!, field, field is null ? "a value" : $"'{field}'");
                break;
        }
    }

    private static string ReadText(Func<string> read, string? field, string what)
    {
        try { return read(); }
        catch (InvalidOperationException)
        {
            throw Bad(field, $"{what} is not valid Unicode text (a lone surrogate such as \\ud800, or bytes that are not UTF-8); send UTF-8 text.");
        }
    }

    private static async Task<byte[]> ReadBodyAsync(HttpRequest request, int limit, CancellationToken cancellationToken)
    {
        if (request.ContentLength > limit) throw TooLarge(limit);
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > limit) throw TooLarge(limit);
            buffer.Write(chunk, 0, read);
        }
        if (buffer.Length == 0)
            throw new ApiException(StatusCodes.Status400BadRequest, "the body is empty; send JSON such as {\"prompt\": \"a red circle\"}.");
        return buffer.ToArray();
    }

    private static ApiException TooLarge(int limit) =>
        new(StatusCodes.Status413PayloadTooLarge, $"the request body is larger than {limit} bytes; shorten the prompt.");

    private static GenerationRequest Parse(Fields f, ServerOptions limits, Sjd2Pipeline pipeline, bool streaming)
    {
        foreach (var name in f.Names)
            if (!KnownFields.Contains(name) && !IgnoredOpenAiFields.Contains(name))
                throw Bad(name, $"unknown field '{name}'; see GET /api/info for the fields this server takes.");

        var manifest = pipeline.Manifest;
        string prompt = f.String("prompt") ?? throw Bad("prompt", "'prompt' is required, e.g. {\"prompt\": \"a red circle above a blue square\"}.");
        if (string.IsNullOrWhiteSpace(prompt)) throw Bad("prompt", "the prompt is empty; describe the image, e.g. \"a red circle above a blue square\".");
        if (prompt.Length > limits.MaxPromptChars) throw Bad("prompt", $"the prompt has {prompt.Length} characters; the limit is {limits.MaxPromptChars}.");

        int count = f.Int("n", 1, limits.MaxImagesPerRequest) ?? 1;
        if (streaming && count != 1) throw Bad("n", "the streaming endpoint makes one image per request; send n = 1 or leave it out.");

        string size = $"{manifest.Image.Width}x{manifest.Image.Height}";
        if (f.String("size") is { } askedSize && askedSize != "auto" && !string.Equals(askedSize, size, StringComparison.OrdinalIgnoreCase))
            throw Bad("size", $"size '{askedSize}' is not available: model {manifest.Name} makes {size} images; send \"size\": \"{size}\" or leave it out.");
        if (f.String("response_format") is { } format && format != "b64_json")
            throw Bad("response_format", $"response_format '{format}' is not supported: this server keeps no files; use \"b64_json\".");
        if (f.String("output_format") is { } output && !string.Equals(output, "png", StringComparison.OrdinalIgnoreCase))
            throw Bad("output_format", $"output_format '{output}' is not supported; images are PNG.");
        if (f.Bool("stream") == true && !streaming)
            throw Bad("stream", "this endpoint answers with the finished images; stream passes from POST /v1/images/generations/stream.");
        bool previews = f.Bool("previews") ?? true;

        GenerationOptions options;
        try
        {
            options = ReadOptions(f);
            SettingError.CheckSeedRange(options.Seed, count);
            // The engine's rules for every value, as the command line applies them; the key names the field.
            options.Check(manifest);
        }
        catch (Sjd2Exception e)
        {
            throw Bad(SettingError.KeyOf(e), e.Message);
        }
        try
        {
            pipeline.Tokenize(prompt);
        }
        catch (Sjd2Exception e)
        {
            throw Bad("prompt", e.Message);
        }
        return new GenerationRequest(prompt, count, options, previews);
    }

    // The engine's settings are read by its binder, as for the command line; JSON numbers and strings are their text.
    private static GenerationOptions ReadOptions(Fields f)
    {
        var settings = f.Names.Where(SettingsBinder.Keys.Contains).Select(name => new KeyValuePair<string, string>(name, f.Text(name)!))
            .Where(s => s.Value is not null).ToList();
        var start = new GenerationOptions
        {
            Seed = (ulong)Random.Shared.NextInt64(1L << 53), // within JavaScript's exact integers
            Decoding = MethodOptions.For(DefaultMethod),
        };
        return SettingsBinder.Bind(start, settings);
    }

    public static string MethodName(DecodingMethod method) => DecodingMethodNames.ToName(method);

    private static ApiException Bad(string? param, string message) => new(StatusCodes.Status400BadRequest, message, param);

    /// <summary>Typed access to the fields of the request object; null means absent (or JSON null).</summary>
    private sealed class Fields(JsonElement root)
    {
        public IEnumerable<string> Names => root.EnumerateObject().Select(p => p.Name);

        /// <summary>A string's value or a number's text, for the engine's binder.</summary>
        public string? Text(string name) => Raw(name) switch
        {
            null => null,
            { ValueKind: JsonValueKind.String } v => v.GetString(),
            { ValueKind: JsonValueKind.Number } v => v.GetRawText(),
            _ => throw Bad(name, $"'{name}' must be a string or a number."),
        };

        public JsonElement? Raw(string name) =>
            root.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

        public string? String(string name) => Raw(name) switch
        {
            null => null,
            { ValueKind: JsonValueKind.String } v => v.GetString(),
            _ => throw Bad(name, $"'{name}' must be a string."),
        };

        public bool? Bool(string name) => Raw(name) switch
        {
            null => null,
            { ValueKind: JsonValueKind.True } => true,
            { ValueKind: JsonValueKind.False } => false,
            _ => throw Bad(name, $"'{name}' must be true or false."),
        };

        public int? Int(string name, int min, int max)
        {
            if (Raw(name) is not { } v) return null;
            if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out int i))
                throw Bad(name, $"'{name}' must be an integer, got {v.GetRawText()}.");
            if (i < min || i > max) throw Bad(name, $"'{name}' must be between {min} and {max}, got {i}.");
            return i;
        }
    }
}
