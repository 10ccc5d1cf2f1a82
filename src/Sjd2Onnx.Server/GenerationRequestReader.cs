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

    private static readonly HashSet<string> KnownFields =
    [
        "prompt", "n", "size", "response_format", "output_format", "stream",
        "method", "seed", "cfg", "temperature", "top_k", "top_p", "window", "init", "reuse", "reuse_threshold",
        "denoise_steps", "kv", "accept_noise", "schedule", "tree", "reseed", "previews",
    ];

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

        var options = ReadOptions(f, manifest);
        try
        {
            SettingError.CheckSeedRange(options.Seed, count);
            // The engine's rules for every value, as the command line applies them; the key names the field.
            options.ResolveSampling(manifest.Sampling);
            if (options.Method != DecodingMethod.Ar) options.ResolveDecoding(manifest);
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

    private static GenerationOptions ReadOptions(Fields f, ModelManifest manifest)
    {
        var method = f.String("method") is { } m ? ParseMethod(m) : DefaultMethod;
        if (method == DecodingMethod.Sjd2 && manifest.Sjd2 is null)
            throw Bad("method", $"model {manifest.Name} is not trained for sjd2; use \"sjd\" or \"sjd++\".");
        string name = MethodName(method);

        // Options of another method are a mistake worth naming rather than ignoring.
        void OnlyFor(string field, bool applies, string methods)
        {
            if (f.Has(field) && !applies) throw Bad(field, $"'{field}' applies to method {methods}, not {name}.");
        }
        OnlyFor("window", method != DecodingMethod.Ar, "sjd, sjd++, pac or sjd2");
        OnlyFor("init", method != DecodingMethod.Ar, "sjd, sjd++, pac or sjd2");
        OnlyFor("reseed", method != DecodingMethod.Ar, "sjd, sjd++, pac or sjd2");
        OnlyFor("tree", method == DecodingMethod.Pac, "pac");
        OnlyFor("reuse", method is DecodingMethod.SjdPlusPlus or DecodingMethod.Sjd2, "sjd++ or sjd2");
        OnlyFor("reuse_threshold", method == DecodingMethod.SjdPlusPlus, "sjd++");
        OnlyFor("denoise_steps", method == DecodingMethod.Sjd2, "sjd2");
        OnlyFor("kv", method == DecodingMethod.Sjd2, "sjd2");
        OnlyFor("accept_noise", method == DecodingMethod.Sjd2, "sjd2");
        OnlyFor("schedule", method == DecodingMethod.Sjd2, "sjd2");

        bool autoWindow = false;
        int? window = null;
        if (f.Has("window"))
        {
            if (f.Raw("window") is { ValueKind: JsonValueKind.String } w && w.GetString() == "auto") autoWindow = true;
            else window = f.Int("window", 2, manifest.Transformer.MaxSequenceLength);
        }
        float? tau = f.Float("reuse_threshold");
        var reuse = f.String("reuse") switch
        {
            null => tau is null ? DraftReuse.Coupled : DraftReuse.Threshold,
            "coupled" when tau is null => DraftReuse.Coupled,
            "coupled" => throw Bad("reuse_threshold", "reuse_threshold applies to \"reuse\": \"threshold\", not coupled."),
            "threshold" when method == DecodingMethod.Sjd2 => throw Bad("reuse", "the threshold rule applies to sjd++; sjd2 takes \"coupled\" or \"none\"."),
            "threshold" => DraftReuse.Threshold,
            "none" when tau is null => DraftReuse.None,
            "none" => throw Bad("reuse_threshold", "reuse_threshold applies to \"reuse\": \"threshold\", not none."),
            var other => throw Bad("reuse", $"unknown reuse rule '{other}'; use \"coupled\", \"threshold\" or \"none\"."),
        };
        float? temperature = f.Float("temperature"), topP = f.Float("top_p");
        float? acceptNoise = f.Float("accept_noise");
        var (treeWidth, treeDepth) = f.String("tree") is { } tree ? ParseTree(tree) : ((int?)null, (int?)null);

        return new GenerationOptions
        {
            Method = method,
            Seed = f.ULong("seed") ?? (ulong)Random.Shared.NextInt64(1L << 53), // within JavaScript's exact integers
            CfgScale = f.Float("cfg"),
            Temperature = temperature,
            TopK = f.Int("top_k", 0, int.MaxValue), // 0 turns top-k off, as on the command line
            TopP = topP,
            Window = window,
            AutoWindow = autoWindow,
            DraftInit = f.String("init") switch
            {
                null => null,
                "random" => DraftInitialization.Random,
                "horizontal" => DraftInitialization.Horizontal,
                "vertical" => DraftInitialization.Vertical,
                "noise" when method == DecodingMethod.Sjd2 => DraftInitialization.Noise,
                var other => throw Bad("init", $"unknown init '{other}'; use random, horizontal or vertical{(method == DecodingMethod.Sjd2 ? " (or noise)" : "")}."),
            },
            Reuse = reuse,
            ReuseThreshold = tau,
            DenoiseSteps = f.Int("denoise_steps", 1, 10000),
            AcceptNoise = acceptNoise,
            TreeWidth = treeWidth,
            TreeDepth = treeDepth,
            ReseedAfterStalls = f.Int("reseed", 0, 100_000),
            // "kv": "exact", "approx", or a noise level σ in [0, 1]: keep KV rows of tokens fed at σ or less.
            KvMode = f.Raw("kv") is { ValueKind: JsonValueKind.Number } ? Sjd2KvMode.Limit : f.String("kv") switch
            {
                null => null,
                "exact" => Sjd2KvMode.Exact,
                "approx" => Sjd2KvMode.Approximate,
                var other => throw Bad("kv", $"unknown kv mode '{other}'; use \"exact\", \"approx\" or a noise level such as 0.1."),
            },
            KvNoiseLimit = f.Raw("kv") is { ValueKind: JsonValueKind.Number } ? KvLimit(f) : null,
            Schedule = f.String("schedule") switch
            {
                null => null,
                "window" => Sjd2Schedule.Window,
                "per-pass" => Sjd2Schedule.PerPass,
                var other => throw Bad("schedule", $"unknown schedule '{other}'; use \"window\" or \"per-pass\"."),
            },
        };
    }

    private static float KvLimit(Fields f)
    {
        return f.Float("kv")!.Value; // its range is the engine's rule
    }

    public static DecodingMethod ParseMethod(string name) => DecodingMethodNames.TryParse(name, out var method) ? method
        : throw Bad("method", $"unknown method '{name}'; use \"ar\", \"sjd\", \"sjd++\", \"pac\" or \"sjd2\".");

    public static string MethodName(DecodingMethod method) => DecodingMethodNames.ToName(method);

    // The CLI's --tree shape; a request also keeps both numbers to 64 (a tree never needs more).
    private static (int? Width, int? Depth) ParseTree(string text)
    {
        if (GenerationOptions.TryParseTree(text, out int width, out int depth) && width <= 64 && depth <= 64)
            return (width, depth);
        throw Bad("tree", $"tree must be \"WIDTHxDEPTH\" such as \"3x1\" (widths and depths up to 64), or \"1\" for chain drafts; got '{text}'.");
    }

    private static ApiException Bad(string? param, string message) => new(StatusCodes.Status400BadRequest, message, param);

    /// <summary>Typed access to the fields of the request object; null means absent (or JSON null).</summary>
    private sealed class Fields(JsonElement root)
    {
        public IEnumerable<string> Names => root.EnumerateObject().Select(p => p.Name);

        public bool Has(string name) => Raw(name) is not null;

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

        public ulong? ULong(string name)
        {
            if (Raw(name) is not { } v) return null;
            if (v.ValueKind != JsonValueKind.Number || !v.TryGetUInt64(out ulong u))
                throw Bad(name, $"'{name}' must be an integer from 0 to {ulong.MaxValue}, got {v.GetRawText()}.");
            return u;
        }

        public float? Float(string name)
        {
            if (Raw(name) is not { } v) return null;
            if (v.ValueKind != JsonValueKind.Number || !v.TryGetDouble(out double d) || !double.IsFinite(d))
                throw Bad(name, $"'{name}' must be a number, got {v.GetRawText()}.");
            return (float)d;
        }
    }
}
