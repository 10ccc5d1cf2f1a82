using System.Text.Json;
using Sjd2Onnx.IO;
using Sjd2Onnx.Sampling;

namespace Sjd2Onnx.Model;

/// <summary>Reads and validates model.json; every failure is a one-line <see cref="Sjd2Exception"/>.</summary>
internal static class ManifestReader
{
    public const string FileName = "model.json";
    public const string FormatName = "sjd2onnx-model";

    public static ModelManifest Load(string modelDir)
    {
        if (!Directory.Exists(modelDir))
            throw new Sjd2Exception($"model folder '{modelDir}' does not exist; pass --model with a folder made by export_models.py.");
        string path = Path.Combine(modelDir, FileName);
        if (!File.Exists(path))
            throw new Sjd2Exception($"'{modelDir}' has no {FileName}; it is not a model folder (export one with export_models.py).");
        path = ResolveInside(modelDir, FileName, FileName);
        var manifest = Parse(InputFile.ReadAllText(path, InputFile.MaxTextBytes, FileName));
        CheckFiles(modelDir, manifest);
        return manifest;
    }

    public static ModelManifest Parse(string json)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = false }); }
        catch (JsonException e)
        {
            throw new Sjd2Exception($"{FileName} is not valid JSON (line {e.LineNumber + 1}): re-export the model or fix the file.", e);
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw Bad("the top level must be a JSON object");
            string format = Str(root, "format");
            if (format != FormatName)
                throw Bad($"'format' is '{format}', expected '{FormatName}'");
            int version = Int(root, "format_version", 1, int.MaxValue);
            if (version != ModelManifest.SupportedFormatVersion)
                throw new Sjd2Exception($"{FileName} has format_version {version}, this engine reads version {ModelManifest.SupportedFormatVersion}; re-export the model with this version's export_models.py.");

            var t = Obj(root, "transformer");
            var transformer = new TransformerSpec(
                Int(t, "hidden_size", 1, 1 << 16), Int(t, "num_layers", 1, 1024), Int(t, "num_kv_heads", 1, 1024),
                Int(t, "head_dim", 1, 4096), Int(t, "max_sequence_length", 2, 1 << 24));

            var i = Obj(root, "image");
            var range = FloatArray(i, "pixel_range");
            if (range.Length != 2 || !(range[0] < range[1]))
                throw Bad("'image.pixel_range' must be [min, max] with min < max");
            var image = new ImageSpec(Int(i, "grid_height", 1, 4096), Int(i, "grid_width", 1, 4096),
                Int(i, "codebook_size", 2, 1 << 24), Int(i, "height", 1, 1 << 16), Int(i, "width", 1, 1 << 16), range[0], range[1]);

            var tok = Obj(root, "tokenizer");
            string tokType = Str(tok, "type");
            var files = new Dictionary<string, string>();
            string[] needed = tokType switch
            {
                "wordpiece" => ["vocab"],
                "bpe" => ["vocab", "merges"],
                "sentencepiece" => ["model"],
                "tiktoken" => ["vocab"],
                _ => throw Bad($"'tokenizer.type' is '{tokType}'; supported: wordpiece, bpe, sentencepiece, tiktoken"),
            };
            foreach (var key in needed) files[key] = Str(tok, key);
            var tokenizer = ReadTokenizerExtras(tok, new TokenizerSpec(tokType, files, OptBool(tok, "lowercase", false), Int(tok, "max_prompt_tokens", 1, 1 << 20)));

            var s = Obj(root, "sequence");
            var sequence = new SequenceSpec(LongArray(s, "prompt_prefix_ids"), LongArray(s, "prompt_suffix_ids"),
                LongArray(s, "begin_of_image_ids"), OptLong(s, "end_of_line_id"), LongArray(s, "end_of_image_ids"));
            if (sequence.PromptPrefixIds.Count + sequence.PromptSuffixIds.Count + sequence.BeginOfImageIds.Count == 0)
                throw Bad("'sequence' needs at least one prompt_prefix_ids, prompt_suffix_ids or begin_of_image_ids token");
            if (s.TryGetProperty("first_image_position", out var fip) && fip.ValueKind != JsonValueKind.Null)
                sequence = sequence with { FirstImagePosition = Int(s, "first_image_position", 1, 1 << 24) };

            var c = Obj(root, "cfg");
            string uncond = Str(c, "unconditional");
            if (uncond is not ("empty_prompt" or "pad_prompt" or "negative_prompt" or "begin_of_image"))
                throw Bad($"'cfg.unconditional' is '{uncond}'; supported: empty_prompt, pad_prompt, negative_prompt, begin_of_image");
            if (uncond == "begin_of_image" && sequence.BeginOfImageIds.Count == 0)
                throw Bad("'cfg.unconditional' begin_of_image needs at least one begin_of_image_ids token");
            var cfg = new CfgSpec(uncond, OptLong(c, "pad_id") ?? 0, OptStr(c, "negative_prompt"));
            if (uncond == "negative_prompt" && cfg.NegativePrompt is null)
                throw Bad("'cfg.negative_prompt' is required when cfg.unconditional is negative_prompt");

            var sm = Obj(root, "sampling");
            var sampling = new SamplingSettings(Float(sm, "cfg_scale"), Float(sm, "temperature"), Int(sm, "top_k", 0, int.MaxValue), Float(sm, "top_p"));
            try { sampling.Validate(); }
            catch (Sjd2Exception e) { throw Bad($"'sampling' is invalid: {e.Message}"); }

            var g = Obj(root, "graphs");
            var graphs = new GraphFiles(Str(g, "text_embedding"), Str(g, "image_embedding"), Str(g, "transformer"), Str(g, "vq_decoder"));

            Sjd2Spec? sjd2 = null;
            if (root.TryGetProperty("sjd2", out var n) && n.ValueKind != JsonValueKind.Null)
            {
                if (n.ValueKind != JsonValueKind.Object) throw Bad("'sjd2' must be an object or null");
                string schedule = Str(n, "schedule");
                if (schedule != "karras") throw Bad($"'sjd2.schedule' is '{schedule}'; supported: karras");
                sjd2 = new Sjd2Spec(schedule, Int(n, "steps", 1, 10000), Float(n, "sigma_min"), Float(n, "sigma_max"), Float(n, "rho"),
                    FloatArray(n, "embedding_mean"), FloatArray(n, "embedding_std"));
                if (!(sjd2.SigmaMin > 0 && sjd2.SigmaMin < sjd2.SigmaMax && sjd2.SigmaMax <= 1) || !(sjd2.Rho > 0))
                    throw Bad("'sjd2' needs 0 < sigma_min < sigma_max <= 1 and rho > 0");
                if (sjd2.EmbeddingMean.Length != transformer.HiddenSize || sjd2.EmbeddingStd.Length != transformer.HiddenSize)
                    throw Bad($"'sjd2.embedding_mean' and 'embedding_std' must have hidden_size ({transformer.HiddenSize}) values");
                if (sjd2.EmbeddingStd.Any(v => !(v > 0) || !float.IsFinite(v)))
                    throw Bad("'sjd2.embedding_std' values must be finite and > 0");
            }

            var weights = WeightSpec.Float32;
            if (root.TryGetProperty("weights", out var wt) && wt.ValueKind != JsonValueKind.Null)
            {
                if (wt.ValueKind != JsonValueKind.Object) throw Bad("'weights' must be an object or null");
                string wf = Str(wt, "format");
                int bits = wf switch
                {
                    "float32" => 32,
                    "int8" => 8,
                    "int4" => 4,
                    _ => throw Bad($"'weights.format' is '{wf}'; supported: float32, int8, int4"),
                };
                weights = bits == 32 ? WeightSpec.Float32
                    : new WeightSpec(wf, bits, Int(wt, "block_size", 16, 1 << 16), Int(wt, "accuracy_level", 0, 4));
            }

            return new ModelManifest
            {
                Name = Str(root, "name"),
                Description = OptStr(root, "description") ?? "",
                Transformer = transformer,
                Image = image,
                Tokenizer = tokenizer,
                Sequence = sequence,
                Cfg = cfg,
                Sampling = sampling,
                Graphs = graphs,
                Sjd2 = sjd2,
                Weights = weights,
            };
        }
    }

    private static readonly string[] SplitBehaviors = ["isolated", "removed", "merged_with_previous", "merged_with_next", "contiguous"];

    // Optional tokenizer fields (all absent in older manifests): prompt_format, normalization,
    // byte_level, pre_tokenizer, special_tokens.
    private static TokenizerSpec ReadTokenizerExtras(JsonElement tok, TokenizerSpec spec)
    {
        string format = OptStr(tok, "prompt_format") ?? "{prompt}";
        int at = format.IndexOf("{prompt}", StringComparison.Ordinal);
        if (at < 0 || format.IndexOf("{prompt}", at + 1, StringComparison.Ordinal) >= 0)
            throw Bad("'tokenizer.prompt_format' must contain '{prompt}' exactly once");
        string? normalization = OptStr(tok, "normalization");
        if (normalization is not (null or "nfc" or "nfkc"))
            throw Bad($"'tokenizer.normalization' is '{normalization}'; supported: nfc, nfkc (or null)");
        bool byteLevel = OptBool(tok, "byte_level", false);
        if (byteLevel && spec.Type != "bpe")
            throw Bad("'tokenizer.byte_level' applies to the bpe type only");

        List<PreTokenizerSplit>? splits = null;
        if (tok.TryGetProperty("pre_tokenizer", out var pre) && pre.ValueKind != JsonValueKind.Null)
        {
            if (spec.Type is not ("bpe" or "tiktoken"))
                throw Bad("'tokenizer.pre_tokenizer' applies to the bpe and tiktoken types only");
            if (pre.ValueKind != JsonValueKind.Array || pre.GetArrayLength() == 0)
                throw Bad("'tokenizer.pre_tokenizer' must be a non-empty array of {pattern, behavior, invert}");
            splits = [];
            foreach (var e in pre.EnumerateArray())
            {
                if (e.ValueKind != JsonValueKind.Object) throw Bad("'tokenizer.pre_tokenizer' entries must be objects");
                string pattern = Str(e, "pattern");
                string behavior = OptStr(e, "behavior") ?? "isolated";
                if (!SplitBehaviors.Contains(behavior))
                    throw Bad($"'tokenizer.pre_tokenizer' behavior '{behavior}' is unknown; supported: {string.Join(", ", SplitBehaviors)}");
                try { _ = new System.Text.RegularExpressions.Regex(pattern); }
                catch (ArgumentException) { throw Bad($"'tokenizer.pre_tokenizer' pattern '{pattern}' is not a valid regular expression"); }
                splits.Add(new PreTokenizerSplit(pattern, behavior, OptBool(e, "invert", false)));
            }
        }
        else if (spec.Type == "tiktoken")
            throw Bad("'tokenizer.pre_tokenizer' is required for the tiktoken type");

        Dictionary<string, int>? special = null;
        if (tok.TryGetProperty("special_tokens", out var sp) && sp.ValueKind != JsonValueKind.Null)
        {
            if (spec.Type is not ("bpe" or "tiktoken"))
                throw Bad("'tokenizer.special_tokens' applies to the bpe and tiktoken types only");
            if (sp.ValueKind != JsonValueKind.Object) throw Bad("'tokenizer.special_tokens' must be an object of text: id");
            special = [];
            foreach (var p in sp.EnumerateObject())
            {
                if (p.Name.Length == 0 || p.Value.ValueKind != JsonValueKind.Number || !p.Value.TryGetInt32(out int id) || id < 0)
                    throw Bad("'tokenizer.special_tokens' must map non-empty texts to non-negative ids");
                special[p.Name] = id;
            }
        }
        return spec with
        {
            PromptFormat = format,
            Normalization = normalization,
            ByteLevel = byteLevel,
            PreTokenizer = splits,
            SpecialTokens = special,
        };
    }

    /// <summary>
    /// Resolves a manifest file reference, refusing paths that leave the folder: lexically (<c>..</c>,
    /// absolute paths) and after following symbolic links, so a linked file or subfolder cannot make
    /// the engine read outside the model folder. Returns the real path (links resolved).
    /// </summary>
    public static string ResolveInside(string modelDir, string relative, string what)
    {
        if (relative.Contains('\0'))
            throw Bad($"{what} contains a NUL character");
        if (Path.IsPathRooted(relative))
            throw Bad($"{what} '{relative}' is an absolute path; file references must be relative to the model folder");
        string root = Path.GetFullPath(modelDir);
        string full = Path.GetFullPath(Path.Combine(root, relative));
        if (!IsInside(full, root))
            throw Bad($"{what} '{relative}' points outside the model folder; keep every file inside it");
        string realRoot = RealPath(root, what), real = RealPath(full, what);
        if (!IsInside(real, realRoot))
            throw Bad($"{what} '{relative}' is a symbolic link (or lies in a linked folder) that leads outside the model folder; copy the file into the folder");
        return real;
    }

    private static bool IsInside(string full, string root)
    {
        string prefix = root.EndsWith(Path.DirectorySeparatorChar) ? root : root + Path.DirectorySeparatorChar;
        return full.StartsWith(prefix, StringComparison.Ordinal);
    }

    // The path with every symbolic link along it resolved (like realpath); parts that do not exist are kept as they are.
    private static string RealPath(string full, string what, int depth = 0)
    {
        if (depth > 40) throw Bad($"{what} goes through too many symbolic links");
        string current = Path.GetPathRoot(full) ?? "";
        foreach (var part in full[current.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries))
        {
            current = Path.Combine(current, part);
            FileSystemInfo? target;
            try
            {
                var info = new FileInfo(current);
                if (info.LinkTarget is null) continue;
                target = info.ResolveLinkTarget(returnFinalTarget: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw Bad($"{what} goes through a symbolic link that cannot be followed ({e.Message})");
            }
            if (target is null) continue;
            current = RealPath(Path.GetFullPath(target.FullName), what, depth + 1);
        }
        return current;
    }

    private static void CheckFiles(string modelDir, ModelManifest m)
    {
        var refs = new List<(string What, string Path)>
        {
            ("graphs.text_embedding", m.Graphs.TextEmbedding), ("graphs.image_embedding", m.Graphs.ImageEmbedding),
            ("graphs.transformer", m.Graphs.Transformer), ("graphs.vq_decoder", m.Graphs.VqDecoder),
        };
        refs.AddRange(m.Tokenizer.Files.Select(kv => ($"tokenizer.{kv.Key}", kv.Value)));
        foreach (var (what, rel) in refs)
        {
            string full = ResolveInside(modelDir, rel, what);
            if (!File.Exists(full))
                throw new Sjd2Exception($"{FileName}: {what} names '{rel}', which is not in '{modelDir}'; re-export the model or fix the path.");
            // A FIFO or device would block the loader; tokenizer files are read whole, so their size is bounded too.
            InputFile.Check(full, what.StartsWith("tokenizer.", StringComparison.Ordinal) ? InputFile.MaxTokenizerBytes : long.MaxValue, $"{FileName}: {what}");
        }
    }

    private static Sjd2Exception Bad(string what) => new($"{FileName}: {what}; re-export the model or fix the file.");

    private static JsonElement Get(JsonElement o, string name)
    {
        if (!o.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
            throw Bad($"'{name}' is missing");
        return v;
    }

    private static JsonElement Obj(JsonElement o, string name)
    {
        var v = Get(o, name);
        if (v.ValueKind != JsonValueKind.Object) throw Bad($"'{name}' must be an object");
        return v;
    }

    private static string Str(JsonElement o, string name)
    {
        var v = Get(o, name);
        if (v.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(v.GetString())) throw Bad($"'{name}' must be a non-empty string");
        return v.GetString()!;
    }

    private static string? OptStr(JsonElement o, string name) =>
        o.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static bool OptBool(JsonElement o, string name, bool fallback) =>
        o.TryGetProperty(name, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : fallback;

    private static int Int(JsonElement o, string name, int min, int max)
    {
        var v = Get(o, name);
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out int x)) throw Bad($"'{name}' must be an integer");
        if (x < min || x > max) throw Bad($"'{name}' is {x}, outside [{min}, {max}]");
        return x;
    }

    private static long? OptLong(JsonElement o, string name)
    {
        if (!o.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt64(out long x) || x < 0) throw Bad($"'{name}' must be a non-negative integer or null");
        return x;
    }

    private static float Float(JsonElement o, string name)
    {
        var v = Get(o, name);
        if (v.ValueKind != JsonValueKind.Number) throw Bad($"'{name}' must be a number");
        return (float)v.GetDouble();
    }

    private static long[] LongArray(JsonElement o, string name)
    {
        if (!o.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return [];
        if (v.ValueKind != JsonValueKind.Array) throw Bad($"'{name}' must be an array of token ids");
        var list = new long[v.GetArrayLength()];
        int k = 0;
        foreach (var e in v.EnumerateArray())
        {
            if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt64(out long x) || x < 0) throw Bad($"'{name}' must hold non-negative integers");
            list[k++] = x;
        }
        return list;
    }

    private static float[] FloatArray(JsonElement o, string name)
    {
        var v = Get(o, name);
        if (v.ValueKind != JsonValueKind.Array) throw Bad($"'{name}' must be an array of numbers");
        var list = new float[v.GetArrayLength()];
        int k = 0;
        foreach (var e in v.EnumerateArray())
        {
            if (e.ValueKind != JsonValueKind.Number) throw Bad($"'{name}' must hold numbers");
            list[k++] = (float)e.GetDouble();
        }
        return list;
    }
}
