using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace Sjd2Onnx.Cli.Options;

/// <summary>
/// <c>--method</c> and the options of the speculative methods (<c>--window</c>, <c>--init</c>,
/// <c>--reuse</c>, <c>--reuse-threshold</c>, <c>--denoise-steps</c>, <c>--kv</c>,
/// <c>--accept-noise</c>, <c>--schedule</c>, <c>--tree</c>, <c>--reseed</c>). Bench method specs (<c>sjd2:kv=exact:window=24</c>) are parsed with
/// these same declarations.
/// </summary>
internal sealed class DecodingOptions
{
    /// <summary>The keys a bench method spec may set: the decoding options without their dashes.</summary>
    public static readonly string[] SpecKeys = ["window", "init", "reuse", "reuse-threshold", "denoise-steps", "kv", "accept-noise", "schedule", "tree", "reseed"];


    public Option<DecodingMethod?> Method { get; } = new("--method")
    {
        Description = "Decoding method: ar (one token per pass), sjd (speculative Jacobi decoding, lossless), sjd++ (sjd with draft reuse, lossless), pac (sjd++ with proactive draft trees, lossless; models with tree attention), sjd2 (Jacobi denoising; models trained for it). Default: sjd++.",
        HelpName = "ar|sjd|sjd++|pac|sjd2",
        CustomParser = r => TryParseMethod(r.Tokens.Count == 0 ? "" : r.Tokens[0].Value, out var m) ? m : Fail<DecodingMethod?>(r, MethodError(r.Tokens[0].Value)),
    };

    public Option<WindowChoice?> Window { get; } = new("--window")
    {
        Description = "Tokens per pass of the speculative methods (default 16), or auto: picked from measured pass costs and acceptance (never worse than ar by more than its probes; not bit-reproducible).",
        HelpName = "N|auto",
        CustomParser = ParseWindow,
    };

    public Option<string?> Init { get; } = new("--init")
    {
        Description = "New drafts copy the code above (vertical, the default), to the left (horizontal) or a random code; sjd2 seeds new slots with that prior under noise, or starts them as pure noise with no draft (noise, as published).",
        HelpName = "random|horizontal|vertical|noise",
        CustomParser = ValueParsers.OneOf("--init", "random, horizontal or vertical (or noise for sjd2)", "random", "horizontal", "vertical", "noise"),
    };

    public Option<string?> Reuse { get; } = new("--reuse")
    {
        Description = "sjd++ and sjd2 draft reuse rule: coupled (default), threshold (sjd++, with --reuse-threshold, default 0.1) or none (fresh samples every pass: sjd2 as published).",
        HelpName = "coupled|threshold|none",
        CustomParser = ValueParsers.OneOf("--reuse", "coupled, threshold or none", "coupled", "threshold", "none"),
    };

    public Option<float?> ReuseThreshold { get; } = new("--reuse-threshold")
    {
        Description = "sjd++ threshold rule: a draft survives when the new distribution gives it at least T, in (0, 1]; giving it selects --reuse threshold.",
        HelpName = "T",
        CustomParser = r => InRange(r, "--reuse-threshold", t => t > 0 && t <= 1, t => $"--reuse-threshold must be in (0, 1], got {t}."),
    };

    public Option<int?> DenoiseSteps { get; } = new("--denoise-steps")
    {
        Description = "sjd2: noise levels between a clean draft and pure noise. Default: one per noisy window position (--schedule window), the model's steps (--schedule per-pass).",
        HelpName = "N",
        CustomParser = ValueParsers.Int("--denoise-steps", 1, 10000),
    };

    public Option<string?> Kv { get; } = new("--kv")
    {
        Description = "sjd2: KV cache of tokens accepted while noisy: exact (recomputed clean; the default with --schedule per-pass), approx (kept; the default with the window schedule), or a noise limit S in [0, 1] (kept when fed at noise level <= S, else recomputed).",
        HelpName = "exact|approx|S",
        CustomParser = ParseKv,
    };

    public Option<string?> Schedule { get; } = new("--schedule")
    {
        Description = "sjd2 noise schedule: window (default: a draft's noise level follows its position in the window, clean at the front) or per-pass (as published: one denoising step per pass on a fixed grid).",
        HelpName = "window|per-pass",
        CustomParser = ValueParsers.OneOf("--schedule", "window or per-pass", "window", "per-pass"),
    };

    public Option<float?> AcceptNoise { get; } = new("--accept-noise")
    {
        Description = "sjd2: commit only through outputs whose inputs were fed at noise level <= S, in [0, 1]; 1 (default) as published, 0 with --kv exact is lossless.",
        HelpName = "S",
        CustomParser = r => InRange(r, "--accept-noise", a => a >= 0 && a <= 1, a => $"--accept-noise must be in [0, 1] (0 lossless, 1 as published), got {a}."),
    };

    public Option<string?> Tree { get; } = new("--tree")
    {
        Description = "pac: W candidates per slot for the D slots after the anchor (default 3x1), as WxD, fed on top of the window; 1 = chain drafts (sjd++ coupled). Models without tree attention decode chains.",
        HelpName = "WxD",
        CustomParser = r =>
        {
            string text = r.Tokens.Count == 0 ? "" : r.Tokens[0].Value;
            return GenerationOptions.TryParseTree(text, out _, out _) ? text : Fail<string?>(r, $"--tree must be WIDTHxDEPTH (e.g. 3x1) or 1 for chains, got '{text}'.");
        },
    };

    public Option<int?> Reseed { get; } = new("--reseed")
    {
        Description = "Speculative methods: after N passes in a row that commit one token, re-seed the drafts after the new token from it (its row repeats it, rows below copy the code above); lossless; 0 = never (default 4).",
        HelpName = "N",
        CustomParser = ValueParsers.Int("--reseed", 0, 100000),
    };

    public DecodingOptions()
    {
        Method.CompletionSources.Clear(); // not the enum's member names: the words the parser takes
        Method.CompletionSources.Add([.. DecodingMethodNames.All]);
        Window.CompletionSources.Add("auto", "8", "16", "24", "32");
        Init.CompletionSources.Add("random", "horizontal", "vertical", "noise");
        Reuse.CompletionSources.Add("coupled", "threshold");
        Kv.CompletionSources.Add("exact", "approx", "0.1");
        Schedule.CompletionSources.Add("window", "per-pass");
    }

    /// <summary>Adds the decoding options; <paramref name="withMethod"/> false leaves <c>--method</c> out (bench has <c>--methods</c>).</summary>
    public void AddTo(Command command, bool withMethod = true)
    {
        if (withMethod) command.Options.Add(Method);
        command.Options.Add(Window);
        command.Options.Add(Init);
        command.Options.Add(Reuse);
        command.Options.Add(ReuseThreshold);
        command.Options.Add(DenoiseSteps);
        command.Options.Add(Kv);
        command.Options.Add(AcceptNoise);
        command.Options.Add(Schedule);
        command.Options.Add(Tree);
        command.Options.Add(Reseed);
    }

    /// <summary>The method of <c>--method</c> (the engine's default when not given).</summary>
    public DecodingMethod MethodOf(ParseResult parse) => parse.GetValue(Method) ?? GenerationOptions.DefaultMethod;

    /// <summary>The decoding values given on the command line.</summary>
    public DecodingValues ValuesOf(ParseResult parse) => new(
        parse.GetValue(Window), parse.GetValue(Init), parse.GetValue(Reuse), parse.GetValue(ReuseThreshold),
        parse.GetValue(DenoiseSteps), parse.GetValue(Kv), parse.GetValue(AcceptNoise), parse.GetValue(Schedule), parse.GetValue(Tree),
        parse.GetValue(Reseed));

    /// <summary>
    /// A bench method spec: a method name with optional overrides of the decoding options,
    /// e.g. <c>sjd2:kv=exact:window=24</c>, parsed with the same option declarations.
    /// </summary>
    public static (DecodingMethod Method, DecodingValues Overrides) ParseSpec(string spec)
    {
        var parts = spec.Split(':');
        if (!TryParseMethod(parts[0], out var method)) throw new UsageException(MethodError(parts[0]));
        var args = new List<string>();
        foreach (var part in parts.Skip(1))
        {
            int eq = part.IndexOf('=');
            if (eq < 0 || !SpecKeys.Contains(part[..eq]))
                throw new UsageException($"bad method spec '{spec}': use NAME:key=value with keys {string.Join(", ", SpecKeys)}.");
            args.Add($"--{part[..eq]}");
            args.Add(part[(eq + 1)..]);
        }
        var options = new DecodingOptions();
        var command = new Command("spec");
        options.AddTo(command, withMethod: false);
        var parse = command.Parse(args);
        if (parse.Errors.Count > 0) throw new UsageException($"method spec '{spec}': {parse.Errors[0].Message}");
        return (method!.Value, options.ValuesOf(parse));
    }

    /// <summary>
    /// Generation options for <paramref name="method"/> from the decoding values. An option the
    /// method does not use is an error, unless several methods share one command line (bench).
    /// </summary>
    public static GenerationOptions ToGenerationOptions(DecodingValues v, DecodingMethod method, bool methodsMayDiffer)
    {
        if (!methodsMayDiffer)
        {
            string m = MethodName(method);
            if (v.Window is not null && method == DecodingMethod.Ar)
                throw new UsageException("--window applies to --method sjd, sjd++ and sjd2; AR feeds one token per pass.");
            if (v.Init is not null && method == DecodingMethod.Ar)
                throw new UsageException("--init applies to --method sjd, sjd++ and sjd2, not ar.");
            if (v.Reseed is not null && method == DecodingMethod.Ar)
                throw new UsageException("--reseed applies to --method sjd, sjd++, pac and sjd2, not ar.");
            if (v.ReuseThreshold is not null && method != DecodingMethod.SjdPlusPlus)
                throw new UsageException($"--reuse-threshold applies to --method sjd++, not {m}.");
            if (v.Reuse is not null && method is not (DecodingMethod.SjdPlusPlus or DecodingMethod.Sjd2))
                throw new UsageException($"--reuse applies to --method sjd++ and sjd2, not {m}.");
            if (v.Reuse == "threshold" && method == DecodingMethod.Sjd2)
                throw new UsageException("--reuse threshold applies to --method sjd++; sjd2 takes coupled or none.");
            if ((v.DenoiseSteps is not null || v.Kv is not null || v.AcceptNoise is not null || v.Schedule is not null) && method != DecodingMethod.Sjd2)
                throw new UsageException($"--{(v.DenoiseSteps is not null ? "denoise-steps" : v.Kv is not null ? "kv" : v.Schedule is not null ? "schedule" : "accept-noise")} applies to --method sjd2, not {m}.");
            if (v.Tree is not null && method != DecodingMethod.Pac)
                throw new UsageException($"--tree applies to --method pac, not {m}.");
        }
        int? treeWidth = null, treeDepth = null;
        if (v.Tree is not null && method == DecodingMethod.Pac && GenerationOptions.TryParseTree(v.Tree, out int w, out int d)) (treeWidth, treeDepth) = (w, d);
        // A threshold only means something for the threshold rule, so giving one selects it.
        var rule = v.Reuse switch
        {
            null => v.ReuseThreshold is null ? DraftReuse.Coupled : DraftReuse.Threshold,
            "coupled" => DraftReuse.Coupled,
            "none" => DraftReuse.None,
            _ => DraftReuse.Threshold,
        };
        if (rule != DraftReuse.Threshold && v.ReuseThreshold is not null)
            throw new UsageException($"--reuse-threshold applies to --reuse threshold, not {v.Reuse}.");
        return new GenerationOptions
        {
            Method = method,
            Window = v.Window?.Size,
            AutoWindow = v.Window?.Auto ?? false,
            DraftInit = v.Init switch
            {
                null => null,
                "random" => DraftInitialization.Random,
                "horizontal" => DraftInitialization.Horizontal,
                "vertical" => DraftInitialization.Vertical,
                _ when method == DecodingMethod.Sjd2 => DraftInitialization.Noise,
                _ => throw new UsageException($"unknown --init '{v.Init}'; use random, horizontal or vertical (noise is for sjd2 only)."),
            },
            Reuse = rule,
            ReuseThreshold = v.ReuseThreshold,
            DenoiseSteps = v.DenoiseSteps,
            AcceptNoise = method == DecodingMethod.Sjd2 ? v.AcceptNoise : null,
            TreeWidth = treeWidth,
            ReseedAfterStalls = method == DecodingMethod.Ar ? null : v.Reseed,
            TreeDepth = treeDepth,
            KvMode = v.Kv switch
            {
                null => null,
                "exact" => Sjd2KvMode.Exact,
                "approx" or "approximate" => Sjd2KvMode.Approximate,
                _ => Sjd2KvMode.Limit,
            },
            KvNoiseLimit = v.Kv is "exact" or "approx" or "approximate" or null ? null : float.Parse(v.Kv, CultureInfo.InvariantCulture),
            Schedule = v.Schedule switch
            {
                null => null,
                "window" => Sjd2Schedule.Window,
                _ => Sjd2Schedule.PerPass,
            },
        };
    }

    /// <summary>The method's name on the command line.</summary>
    public static string MethodName(DecodingMethod method) => DecodingMethodNames.ToName(method);

    private static bool TryParseMethod(string text, out DecodingMethod? method)
    {
        method = DecodingMethodNames.TryParse(text, out var parsed) ? parsed : null;
        return method is not null;
    }

    private static string MethodError(string text) => $"unknown method '{text}'; use --method ar, sjd, sjd++, pac or sjd2.";

    /// <summary>One line on stderr when PAC runs on a model without tree attention (it then decodes chains).</summary>
    public static void NoticeChainFallback(GenerationOptions options, Sjd2Pipeline pipeline)
    {
        if (options.Method == DecodingMethod.Pac && !pipeline.SupportsTreeAttention && (options.TreeWidth ?? GenerationOptions.DefaultTreeWidth) > 1)
        {
            StatusLine.End();
            Console.Error.WriteLine($"notice: model {pipeline.Manifest.Name} has no tree attention (no window_mask input); pac decodes chain drafts (sjd++ coupled). Re-export the model for draft trees.");
        }
    }

    private static WindowChoice? ParseWindow(ArgumentResult r)
    {
        string text = r.Tokens.Count == 0 ? "" : r.Tokens[0].Value;
        if (string.Equals(text.Trim(), "auto", StringComparison.OrdinalIgnoreCase)) return new WindowChoice(null, true);
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int w))
            return Fail<WindowChoice?>(r, $"--window must be an integer or 'auto', got '{text}'.");
        if (w < 2)
            return Fail<WindowChoice?>(r, $"--window must be at least 2 (one anchor and one draft), got {w}; use --method ar for one token per pass.");
        return new WindowChoice(w, false);
    }

    // exact, approx, or a noise limit in [0, 1] (the limit mode); kept as text, checked here.
    private static string? ParseKv(ArgumentResult r)
    {
        string text = (r.Tokens.Count == 0 ? "" : r.Tokens[0].Value).Trim().ToLowerInvariant();
        if (text is "exact" or "approx" or "approximate") return text;
        if (!float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out float limit))
            return Fail<string?>(r, $"unknown --kv '{text}'; use exact, approx or a noise limit in [0, 1] (e.g. --kv {GenerationOptions.DefaultKvNoiseLimit.ToString(CultureInfo.InvariantCulture)}).");
        if (!(limit >= 0 && limit <= 1)) return Fail<string?>(r, $"--kv noise limit must be in [0, 1], got {text}.");
        return limit.ToString(CultureInfo.InvariantCulture);
    }

    private static float? InRange(ArgumentResult r, string name, Func<float, bool> ok, Func<float, string> error)
    {
        float? v = ValueParsers.Float(name)(r);
        if (v is float f && !ok(f)) return Fail<float?>(r, error(f));
        return v;
    }

    private static T Fail<T>(ArgumentResult result, string message)
    {
        result.AddError(message);
        return default!;
    }
}
