using Sjd2Onnx.Model;

namespace Sjd2Onnx.Cli.Commands;

/// <summary>Options shared by the commands that open a model.</summary>
internal static class CommonOptions
{
    public static Sjd2Pipeline OpenModel(CommandLine cl)
    {
        string dir = ModelLocator.Resolve(cl.String("model"));
        var provider = ParseProvider(cl.String("ep") ?? "cpu");
        int device = cl.Int("device-id", 0, 64) ?? 0;
        return Sjd2Pipeline.Load(dir, new PipelineOptions { Provider = provider, DeviceId = device });
    }

    public static ExecutionProvider ParseProvider(string name) => name.Trim().ToLowerInvariant() switch
    {
        "cpu" => ExecutionProvider.Cpu,
        "cuda" => ExecutionProvider.Cuda,
        "dml" or "directml" => ExecutionProvider.DirectML,
        _ => throw new UsageException($"unknown execution provider '{name}'; use --ep cpu, cuda or dml."),
    };

    public static DecodingMethod ParseMethod(string name) => name.Trim().ToLowerInvariant() switch
    {
        "ar" => DecodingMethod.Ar,
        "sjd" => DecodingMethod.Sjd,
        "sjd++" or "sjdpp" or "sjd-plus-plus" => DecodingMethod.SjdPlusPlus,
        "sjd2" => DecodingMethod.Sjd2,
        "pac" => DecodingMethod.Pac,
        _ => throw new UsageException($"unknown method '{name}'; use --method ar, sjd, sjd++, pac or sjd2."),
    };

    /// <summary>The method's name on the command line.</summary>
    public static string MethodName(DecodingMethod method) => method switch
    {
        DecodingMethod.Ar => "ar",
        DecodingMethod.Sjd => "sjd",
        DecodingMethod.SjdPlusPlus => "sjd++",
        DecodingMethod.Sjd2 => "sjd2",
        DecodingMethod.Pac => "pac",
        _ => method.ToString().ToLowerInvariant(),
    };

    /// <summary>Reads the sampling and method options into generation options (seed left to the caller).</summary>
    public static GenerationOptions ReadGeneration(CommandLine cl, Sjd2Pipeline pipeline)
    {
        var options = ReadDecoding(cl, ParseMethod(cl.String("method") ?? "ar"), methodsMayDiffer: false) with
        {
            CfgScale = cl.Float("cfg"),
            Temperature = cl.Float("temperature"),
            TopK = cl.Int("top-k", int.MinValue, int.MaxValue),
            TopP = cl.Float("top-p"),
        };
        if (options.TopK == 0 && cl.String("top-k") is not null)
            throw new UsageException("--top-k 0 keeps no token; pass a positive k, or leave --top-k out to use the model's default.");
        options.ResolveSampling(pipeline.Manifest.Sampling); // validates, one-line errors
        if (options.Method != DecodingMethod.Ar) options.ResolveDecoding(pipeline.Manifest);
        NoticeChainFallback(options, pipeline);
        return options;
    }

    /// <summary>One line on stderr when PAC runs on a model without tree attention (it then decodes chains).</summary>
    public static void NoticeChainFallback(GenerationOptions options, Sjd2Pipeline pipeline)
    {
        if (options.Method == DecodingMethod.Pac && !pipeline.SupportsTreeAttention && (options.TreeWidth ?? GenerationOptions.DefaultTreeWidth) > 1)
            Console.Error.WriteLine($"notice: model {pipeline.Manifest.Name} has no tree attention (no window_mask input); pac decodes chain drafts (sjd++ coupled). Re-export the model for draft trees.");
    }

    /// <summary>
    /// Reads --window, --init, --reuse, --reuse-threshold, --denoise-steps, --kv and --accept-noise for <paramref name="method"/>.
    /// An option the method does not use is an error, unless several methods share one command line (bench).
    /// </summary>
    public static GenerationOptions ReadDecoding(CommandLine cl, DecodingMethod method, bool methodsMayDiffer)
    {
        string? window = cl.String("window");
        string? init = cl.String("init");
        string? reuse = cl.String("reuse");
        float? tau = cl.Float("reuse-threshold");
        int? steps = cl.Int("denoise-steps", 1, 10000);
        string? kv = cl.String("kv");
        float? acceptNoise = cl.Float("accept-noise");
        string? tree = cl.String("tree");
        if (!methodsMayDiffer)
        {
            string m = MethodName(method);
            if (window is not null && method == DecodingMethod.Ar)
                throw new UsageException("--window applies to --method sjd, sjd++ and sjd2; AR feeds one token per pass.");
            if (init is not null && method == DecodingMethod.Ar)
                throw new UsageException("--init applies to --method sjd, sjd++ and sjd2, not ar.");
            if ((tau is not null || reuse is not null) && method != DecodingMethod.SjdPlusPlus)
                throw new UsageException($"--{(tau is not null ? "reuse-threshold" : "reuse")} applies to --method sjd++, not {m}.");
            if ((steps is not null || kv is not null || acceptNoise is not null) && method != DecodingMethod.Sjd2)
                throw new UsageException($"--{(steps is not null ? "denoise-steps" : kv is not null ? "kv" : "accept-noise")} applies to --method sjd2, not {m}.");
            if (tree is not null && method != DecodingMethod.Pac)
                throw new UsageException($"--tree applies to --method pac, not {m}.");
        }
        var (treeWidth, treeDepth) = tree is null || method != DecodingMethod.Pac ? ((int?)null, (int?)null) : ParseTree(tree);
        bool auto = string.Equals(window?.Trim(), "auto", StringComparison.OrdinalIgnoreCase);
        int? size = null;
        if (window is not null && !auto)
        {
            if (!int.TryParse(window, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out int w))
                throw new UsageException($"--window must be an integer or 'auto', got '{window}'.");
            if (w < 2) throw new UsageException($"--window must be at least 2 (one anchor and one draft), got {w}; use --method ar for one token per pass.");
            size = w;
        }
        if (acceptNoise is float a && !(a >= 0 && a <= 1))
            throw new UsageException($"--accept-noise must be in [0, 1] (0 lossless, 1 as published), got {a}.");
        if (tau is float t && !(t > 0 && t <= 1))
            throw new UsageException($"--reuse-threshold must be in (0, 1], got {t}.");
        // A threshold only means something for the threshold rule, so giving one selects it.
        var rule = reuse?.Trim().ToLowerInvariant() switch
        {
            null => tau is null ? DraftReuse.Coupled : DraftReuse.Threshold,
            "coupled" => DraftReuse.Coupled,
            "threshold" => DraftReuse.Threshold,
            _ => throw new UsageException($"unknown --reuse '{reuse}'; use coupled or threshold."),
        };
        if (rule == DraftReuse.Coupled && tau is not null)
            throw new UsageException("--reuse-threshold applies to --reuse threshold, not coupled.");
        return new GenerationOptions
        {
            Method = method,
            Window = size,
            AutoWindow = auto,
            DraftInit = init?.Trim().ToLowerInvariant() switch
            {
                null => null,
                "random" => DraftInitialization.Random,
                "horizontal" => DraftInitialization.Horizontal,
                "vertical" => DraftInitialization.Vertical,
                "noise" when method == DecodingMethod.Sjd2 => null,
                _ => throw new UsageException($"unknown --init '{init}'; use random, horizontal or vertical{(method == DecodingMethod.Sjd2 ? " (or noise for sjd2)" : "")}."),
            },
            Reuse = rule,
            ReuseThreshold = tau,
            DenoiseSteps = steps,
            AcceptNoise = method == DecodingMethod.Sjd2 ? acceptNoise : null,
            TreeWidth = treeWidth,
            TreeDepth = treeDepth,
            KvMode = kv?.Trim().ToLowerInvariant() switch
            {
                null => GenerationOptions.DefaultKvMode,
                "exact" => Sjd2KvMode.Exact,
                "approx" or "approximate" => Sjd2KvMode.Approximate,
                _ => throw new UsageException($"unknown --kv '{kv}'; use exact or approx."),
            },
        };
    }

    // --tree WxD: W candidates per slot for the first D slots after the anchor; a bare 1 means chains.
    private static (int? Width, int? Depth) ParseTree(string value)
    {
        var parts = value.Trim().ToLowerInvariant().Split('x');
        var ci = System.Globalization.CultureInfo.InvariantCulture;
        if (parts.Length == 1 && parts[0] == "1") return (1, 0);
        if (parts.Length != 2 || !int.TryParse(parts[0], System.Globalization.NumberStyles.Integer, ci, out int w) || w < 1
            || !int.TryParse(parts[1], System.Globalization.NumberStyles.Integer, ci, out int d) || d < 0)
            throw new UsageException($"--tree must be WIDTHxDEPTH (e.g. 3x2) or 1 for chains, got '{value}'.");
        return (w, d);
    }
}
