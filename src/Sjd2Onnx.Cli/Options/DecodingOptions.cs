using System.CommandLine;
using System.Text.Json.Nodes;

namespace Sjd2Onnx.Cli.Options;

/// <summary>
/// <c>--method</c> and the options of the decoding methods (<c>--window</c>, <c>--init</c>,
/// <c>--reuse</c>, <c>--reuse-threshold</c>, <c>--denoise-steps</c>, <c>--kv</c>,
/// <c>--accept-noise</c>, <c>--schedule</c>, <c>--tree</c>, <c>--reseed</c>): each is the engine's
/// setting of the same name, read by <see cref="SettingsBinder"/> like bench method specs (<c>sjd2:kv=exact:window=24</c>).
/// </summary>
internal sealed class DecodingOptions
{
    public Option<string?> Method { get; } = new("--method")
    {
        Description = "Decoding method: ar (one token per pass), sjd (speculative Jacobi decoding, lossless), sjd++ (sjd with draft reuse, lossless), pac (sjd++ with proactive draft trees, lossless; models with tree attention), sjd2 (Jacobi denoising; models trained for it). Default: sjd++.",
        HelpName = "ar|sjd|sjd++|pac|sjd2",
    };

    public Option<string?> Window { get; } = new("--window")
    {
        Description = "Tokens per pass of the speculative methods (default 16), or auto: picked from measured pass costs and acceptance (never worse than ar by more than its probes; not bit-reproducible).",
        HelpName = "N|auto",
    };

    public Option<string?> Init { get; } = new("--init")
    {
        Description = "New drafts copy the code above (vertical, the default), to the left (horizontal) or a random code; sjd2 seeds new slots with that prior under noise, or starts them as pure noise with no draft (noise, as published).",
        HelpName = "random|horizontal|vertical|noise",
    };

    public Option<string?> Reuse { get; } = new("--reuse")
    {
        Description = "sjd++ and sjd2 draft reuse rule: coupled (default), threshold (sjd++, with --reuse-threshold, default 0.1) or none (fresh samples every pass: sjd2 as published).",
        HelpName = "coupled|threshold|none",
    };

    public Option<string?> ReuseThreshold { get; } = new("--reuse-threshold")
    {
        Description = "sjd++ threshold rule: a draft survives when the new distribution gives it at least T, in (0, 1]; giving it selects --reuse threshold.",
        HelpName = "T",
    };

    public Option<string?> DenoiseSteps { get; } = new("--denoise-steps")
    {
        Description = "sjd2: noise levels between a clean draft and pure noise. Default: one per noisy window position (--schedule window), the model's steps (--schedule per-pass).",
        HelpName = "N",
    };

    public Option<string?> Kv { get; } = new("--kv")
    {
        Description = "sjd2: KV cache of tokens accepted while noisy: exact (recomputed clean; the default with --schedule per-pass), approx (kept; the default with the window schedule), or a noise limit S in [0, 1] (kept when fed at noise level <= S, else recomputed).",
        HelpName = "exact|approx|S",
    };

    public Option<string?> Schedule { get; } = new("--schedule")
    {
        Description = "sjd2 noise schedule: window (default: a draft's noise level follows its position in the window, clean at the front) or per-pass (as published: one denoising step per pass on a fixed grid).",
        HelpName = "window|per-pass",
    };

    public Option<string?> AcceptNoise { get; } = new("--accept-noise")
    {
        Description = "sjd2: commit only through outputs whose inputs were fed at noise level <= S, in [0, 1]; 1 (default) as published, 0 with --kv exact is lossless.",
        HelpName = "S",
    };

    public Option<string?> Tree { get; } = new("--tree")
    {
        Description = "pac: W candidates per slot for the D slots after the anchor (default 3x1), as WxD, fed on top of the window; 1 = chain drafts (sjd++ coupled). Models without tree attention decode chains.",
        HelpName = "WxD",
    };

    public Option<string?> Reseed { get; } = new("--reseed")
    {
        Description = "Speculative methods: after N passes in a row that commit one token, re-seed the drafts after the new token from it (its row repeats it, rows below copy the code above); lossless; 0 = never (default 4).",
        HelpName = "N",
    };

    public DecodingOptions()
    {
        Method.CompletionSources.Add([.. DecodingMethodNames.All]);
        Window.CompletionSources.Add("auto", "8", "16", "24", "32");
        Init.CompletionSources.Add("random", "horizontal", "vertical", "noise");
        Reuse.CompletionSources.Add("coupled", "threshold");
        Kv.CompletionSources.Add("exact", "approx", "0.1");
        Schedule.CompletionSources.Add("window", "per-pass");
    }

    // The options that are settings of a method, in the order they are bound.
    private Option<string?>[] MethodSettings => [Window, Init, Reuse, ReuseThreshold, DenoiseSteps, Kv, AcceptNoise, Schedule, Tree, Reseed];

    /// <summary>Adds the decoding options; <paramref name="withMethod"/> false leaves <c>--method</c> out (bench has <c>--methods</c>).</summary>
    public void AddTo(Command command, bool withMethod = true)
    {
        if (withMethod) command.Options.Add(Method);
        foreach (var option in MethodSettings) command.Options.Add(option);
    }

    /// <summary>The method of <c>--method</c> (the engine's default when not given).</summary>
    public DecodingMethod MethodOf(ParseResult parse) => parse.GetValue(Method) is { } name
        ? UsageException.FromEngine(() => SettingsBinder.ParseMethod(name))
        : GenerationOptions.DefaultMethod;

    /// <summary>The method settings given on the command line, as <c>key=value</c> settings (<c>--reuse-threshold</c> is <c>reuse_threshold</c>).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> ValuesOf(ParseResult parse) => Settings(parse, MethodSettings);

    /// <summary>Generation options of <c>--method</c>, its options and the sampling options; an option the method does not have is an error.</summary>
    public GenerationOptions Bind(ParseResult parse, SamplingOptions sampling, GenerationOptions start)
    {
        var method = MethodOptions.For(MethodOf(parse));
        return UsageException.FromEngine(() => SettingsBinder.Bind(sampling.Apply(parse, start with { Decoding = method }), ValuesOf(parse)));
    }

    /// <summary>
    /// A bench method spec: a method name with optional settings of its own, e.g.
    /// <c>sjd2:kv=exact:window=24</c>, over the command line's <paramref name="global"/> settings
    /// (each applied to the methods that have it).
    /// </summary>
    public static GenerationOptions ParseSpec(string spec, IReadOnlyList<KeyValuePair<string, string>> global, GenerationOptions start)
    {
        var parts = spec.Split(':');
        var method = UsageException.FromEngine(() => SettingsBinder.ParseMethod(parts[0]));
        var own = new List<KeyValuePair<string, string>>();
        foreach (var part in parts.Skip(1))
        {
            int eq = part.IndexOf('=');
            if (eq <= 0) throw new UsageException($"bad method spec '{spec}': use NAME:key=value, e.g. sjd2:kv=exact:window=24.");
            own.Add(new(part[..eq], part[(eq + 1)..]));
        }
        var options = UsageException.FromEngine(() =>
            SettingsBinder.Bind(start with { Decoding = MethodOptions.For(method) }, global, skipOtherMethods: true));
        try
        {
            return SettingsBinder.Bind(options, own);
        }
        catch (Sjd2Exception e)
        {
            throw new UsageException($"method spec '{spec}': {e.Message}");
        }
    }

    /// <summary>The options a run used, with every default filled in, for reports.</summary>
    public static JsonObject Describe(GenerationOptions o)
    {
        var d = o.Decoding;
        var spec = d as SpeculativeOptions;
        var plus = d as SjdPlusPlusOptions;
        var sjd2 = d as Sjd2Options;
        var pac = d as PacOptions;
        var plusReuse = plus is null ? (DraftReuse?)null : plus.Reuse ?? (plus.ReuseThreshold is null ? DraftReuse.Coupled : DraftReuse.Threshold);
        return new()
        {
            ["init"] = spec?.DraftInit.ToString().ToLowerInvariant(),
            ["reuse"] = (plusReuse ?? sjd2?.Reuse)?.ToString().ToLowerInvariant(),
            ["reuse_threshold"] = plusReuse == DraftReuse.Threshold ? plus!.ReuseThreshold ?? SjdPlusPlusOptions.DefaultReuseThreshold : null,
            ["denoise_steps"] = sjd2?.DenoiseSteps,
            ["kv"] = sjd2 is null ? null : (sjd2.KvMode ?? Sjd2Options.DefaultKvMode(sjd2.Schedule)).ToString().ToLowerInvariant(),
            ["kv_noise_limit"] = sjd2?.KvMode == Sjd2KvMode.Limit ? sjd2.KvNoiseLimit ?? Sjd2Options.DefaultKvNoiseLimit : null,
            ["schedule"] = sjd2?.Schedule.ToString().ToLowerInvariant(),
            ["accept_noise"] = sjd2?.AcceptNoise,
            ["tree"] = pac is null ? null : $"{pac.TreeWidth}x{pac.TreeDepth}",
            ["reseed_after_stalls"] = spec?.ReseedAfterStalls,
            ["cfg"] = o.Sampling.CfgScale,
            ["temperature"] = o.Sampling.Temperature,
            ["top_k"] = o.Sampling.TopK,
            ["top_p"] = o.Sampling.TopP,
        };
    }

    /// <summary>The window a run used for reports: 1 for ar, "auto", or the size.</summary>
    public static JsonNode WindowOf(GenerationOptions o) => o.Decoding switch
    {
        SpeculativeOptions { AutoWindow: true } => "auto",
        SpeculativeOptions s => s.Window,
        _ => 1,
    };

    /// <summary>The method's name on the command line.</summary>
    public static string MethodName(DecodingMethod method) => DecodingMethodNames.ToName(method);

    /// <summary>One line on stderr when PAC runs on a model without tree attention (it then decodes chains).</summary>
    public static void NoticeChainFallback(GenerationOptions options, Sjd2Pipeline pipeline)
    {
        if (options.Decoding is PacOptions { TreeWidth: > 1 } && !pipeline.SupportsTreeAttention)
        {
            StatusLine.End();
            Console.Error.WriteLine($"notice: model {pipeline.Manifest.Name} has no tree attention (no window_mask input); pac decodes chain drafts (sjd++ coupled). Re-export the model for draft trees.");
        }
    }

    /// <summary>The given options among <paramref name="options"/> as settings: the key is the option's name without dashes.</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> Settings(ParseResult parse, IEnumerable<Option<string?>> options) =>
        [.. options.Where(o => parse.GetValue(o) is not null).Select(o => new KeyValuePair<string, string>(o.Name.TrimStart('-').Replace('-', '_'), parse.GetValue(o)!))];
}
