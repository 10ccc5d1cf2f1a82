using System.Globalization;
using Sjd2Onnx.Decoding;
using Sjd2Onnx.Model;
using Sjd2Onnx.Sampling;

namespace Sjd2Onnx;

/// <summary>Options of one generation; unset sampling values fall back to the model's defaults.</summary>
public sealed record GenerationOptions
{
    /// <summary>Decoding method; <see cref="DecodingMethod.SjdPlusPlus"/> unless set (every front end uses this default).</summary>
    public DecodingMethod Method { get; init; } = DefaultMethod;

    /// <summary>
    /// The method of every entry point that is not told one (CLI generate and eval, the server, the
    /// Microsoft.Extensions.AI adapter): lossless, and the fewest passes of the lossless chain methods
    /// in the committed benchmark (docs/bench-default.json); docs/decisions/0001-default-method.md.
    /// </summary>
    internal const DecodingMethod DefaultMethod = DecodingMethod.SjdPlusPlus;

    /// <summary>Seed of the random stream; the same seed gives the same image.</summary>
    public ulong Seed { get; init; }

    /// <summary>Guidance scale; 1 turns CFG off.</summary>
    public float? CfgScale { get; init; }

    /// <summary>Sampling temperature (&gt; 0).</summary>
    public float? Temperature { get; init; }

    /// <summary>Top-k (0 = off).</summary>
    public int? TopK { get; init; }

    /// <summary>Top-p in (0, 1] (1 = off).</summary>
    public float? TopP { get; init; }

    /// <summary>Window of the speculative methods: tokens fed per pass (one committed anchor plus drafts); null = <see cref="DefaultWindow"/>. With <see cref="AutoWindow"/>, the largest window considered (null = <see cref="DefaultAutoWindowLimit"/>).</summary>
    public int? Window { get; init; }

    /// <summary>Let the decoder pick the window every pass from measured pass costs and observed acceptance (speculative methods).</summary>
    public bool AutoWindow { get; init; }

    /// <summary>
    /// How new drafts are initialised; null = <see cref="DefaultDraftInit"/>. SJD2 seeds each new
    /// slot with the prior's token as its draft and the token's embedding under noise (with the
    /// per-pass schedule: noised to the middle of the grid); <see cref="DraftInitialization.Noise"/>
    /// (SJD2 only) starts it as pure noise with no draft, as published.
    /// </summary>
    public DraftInitialization? DraftInit { get; init; }

    /// <summary>SJD++ and SJD2: the draft-reuse rule (SJD2 takes <see cref="DraftReuse.Coupled"/>, the default, or <see cref="DraftReuse.None"/>, as published).</summary>
    public DraftReuse Reuse { get; init; } = DraftReuse.Coupled;

    /// <summary>SJD++ with <see cref="DraftReuse.Threshold"/>: a draft survives a pass when the new distribution gives it at least τ; in (0, 1]; null = <see cref="DefaultReuseThreshold"/>.</summary>
    public float? ReuseThreshold { get; init; }

    /// <summary>SJD2: how drafts' noise levels are scheduled; null = <see cref="DefaultSchedule"/>.</summary>
    public Sjd2Schedule? Schedule { get; init; }

    /// <summary>
    /// SJD2: noise levels between a clean draft and pure noise. With <see cref="Sjd2Schedule.PerPass"/>
    /// the grid a draft steps down one level per pass (null = the model's <c>sjd2.steps</c>); with
    /// <see cref="Sjd2Schedule.Window"/> the levels of the ramp along the window (null = one per noisy
    /// window position).
    /// </summary>
    public int? DenoiseSteps { get; init; }

    /// <summary>SJD2: KV cache treatment of tokens accepted while noisy; null = <see cref="DefaultKvMode"/> of the schedule.</summary>
    public Sjd2KvMode? KvMode { get; init; }

    /// <summary>SJD2 with <see cref="Sjd2KvMode.Limit"/>: KV rows of tokens fed at σ ≤ this are kept, in [0, 1]; null = <see cref="DefaultKvNoiseLimit"/>.</summary>
    public float? KvNoiseLimit { get; init; }

    /// <summary>
    /// SJD2: verification goes on past a draft only while every input the next output saw was fed
    /// at a noise level σ ≤ this limit, in [0, 1]; null = <see cref="DefaultAcceptNoise"/> (1: as
    /// published, never stops). 0 with <see cref="Sjd2KvMode.Exact"/> makes SJD2 lossless.
    /// </summary>
    public float? AcceptNoise { get; init; }

    /// <summary>
    /// Speculative methods: after this many passes in a row that committed a single token, the
    /// drafts after the new token are re-seeded from it (its row repeats it, rows below copy the
    /// code above) instead of following drafts predicted with a rejected token in their context.
    /// Exact (the re-seeded drafts are deterministic). 0 turns it off; null = <see cref="DefaultReseedAfterStalls"/>.
    /// SJD2 with pure-noise initialisation never re-seeds.
    /// </summary>
    public int? ReseedAfterStalls { get; init; }

    /// <summary>Test hook: a deliberately broken verifier that accepts every draft (the exactness tests must catch it).</summary>
    internal bool AcceptEveryDraft { get; init; }

    /// <summary>PAC: candidates per slot in the proactive draft tree, at least 1 (1 = chain drafts); null = <see cref="DefaultTreeWidth"/>.</summary>
    public int? TreeWidth { get; init; }

    /// <summary>PAC: slots after the anchor that get a level of the draft tree, at least 0; null = <see cref="DefaultTreeDepth"/>.</summary>
    public int? TreeDepth { get; init; }

    /// <summary>
    /// Test hook: PAC's adaptive continuation as published — after a rejection, drafts verified
    /// against distributions computed with the rejected draft in the context are committed. Not
    /// exact (the exactness tests show it).
    /// </summary>
    internal bool StaleContinuation { get; init; }

    /// <summary>Test hook: PAC's draft trees alone, with SJD's plain Jacobi resampling instead of coupled reuse past a rejection.</summary>
    internal bool PacWithoutReuse { get; init; }

    /// <summary>Default candidates per slot of PAC's draft tree.</summary>
    public const int DefaultTreeWidth = 3;

    /// <summary>Default depth of PAC's draft tree.</summary>
    public const int DefaultTreeDepth = 1;

    /// <summary>
    /// Reads a draft-tree shape as the CLI's <c>--tree</c> and the server's <c>"tree"</c> take it:
    /// <c>WxD</c> (<see cref="TreeWidth"/> W ≥ 1, <see cref="TreeDepth"/> D ≥ 0, e.g. <c>3x1</c>) or a
    /// bare <c>1</c> for chain drafts (width 1, depth 0).
    /// </summary>
    public static bool TryParseTree(string text, out int width, out int depth)
    {
        ArgumentNullException.ThrowIfNull(text);
        width = 1;
        depth = 0;
        var parts = text.Trim().ToLowerInvariant().Split('x');
        if (parts.Length == 1) return parts[0] == "1";
        return parts.Length == 2
            && int.TryParse(parts[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out width) && width >= 1
            && int.TryParse(parts[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out depth) && depth >= 0;
    }

    /// <summary>Default of <see cref="ReseedAfterStalls"/>: measured on the default model (docs/decoding.md).</summary>
    public const int DefaultReseedAfterStalls = 4;

    /// <summary>Default window of the speculative methods (the official SJD setting: 1 anchor + 15 drafts).</summary>
    public const int DefaultWindow = 16;

    /// <summary>Largest window <see cref="AutoWindow"/> considers unless <see cref="Window"/> says otherwise.</summary>
    public const int DefaultAutoWindowLimit = 32;

    /// <summary>Default draft initialisation of SJD and SJD++ (measured fastest on the demo model).</summary>
    public const DraftInitialization DefaultDraftInit = DraftInitialization.Vertical;

    /// <summary>Default τ of the threshold reuse rule.</summary>
    public const float DefaultReuseThreshold = 0.1f;

    /// <summary>Default SJD2 accept-noise limit (σ_max: verification never stops for noise, as published).</summary>
    public const float DefaultAcceptNoise = 1f;

    /// <summary>
    /// Default SJD2 KV mode of a schedule: approximate for the window schedule (its inputs are noised
    /// embeddings of the very tokens committed, and re-feeding them measured no better), exact for
    /// the published per-pass one (whose latent can carry superseded drafts; approximate KV took its
    /// ShapesEval from 62 % to 39 %). docs/decoding.md has the numbers.
    /// </summary>
    public static Sjd2KvMode DefaultKvMode(Sjd2Schedule schedule) =>
        schedule == Sjd2Schedule.PerPass ? Sjd2KvMode.Exact : Sjd2KvMode.Approximate;

    /// <summary>Default noise limit of <see cref="Sjd2KvMode.Limit"/>.</summary>
    public const float DefaultKvNoiseLimit = 0.1f;

    /// <summary>Default SJD2 noise schedule.</summary>
    public const Sjd2Schedule DefaultSchedule = Sjd2Schedule.Window;

    /// <summary>The sampling settings these options give on top of a model's defaults.</summary>
    public SamplingSettings ResolveSampling(SamplingSettings defaults)
    {
        var s = new SamplingSettings(CfgScale ?? defaults.CfgScale, Temperature ?? defaults.Temperature, TopK ?? defaults.TopK, TopP ?? defaults.TopP);
        s.Validate();
        return s;
    }

    /// <summary>Checks the decoding options against a model and resolves their defaults.</summary>
    /// <exception cref="Sjd2Exception">An impossible value, or SJD2 on a model not trained for it.</exception>
    internal SpeculativeSettings ResolveDecoding(ModelManifest manifest)
    {
        if (Window is int w && w < 2)
            throw SettingError.For("window", $"window must be at least 2 (one anchor and one draft), got {w}; method ar feeds one token per pass.");
        if (ReuseThreshold is float tau && !(tau > 0 && tau <= 1))
            throw SettingError.For("reuse_threshold", $"reuse_threshold must be in (0, 1], got {tau}; e.g. {DefaultReuseThreshold}.");
        if (DenoiseSteps is int steps && steps < 1)
            throw SettingError.For("denoise_steps", $"denoise_steps must be at least 1, got {steps}.");
        if (AcceptNoise is float limit && !(limit >= 0 && limit <= 1))
            throw SettingError.For("accept_noise", $"accept_noise must be in [0, 1], got {limit}; 0 is lossless, 1 as published.");
        if (AcceptNoise is not null && Method != DecodingMethod.Sjd2)
            throw SettingError.For("accept_noise", $"accept_noise applies to method sjd2, not {DecodingMethodNames.ToName(Method)}.");
        if (Method == DecodingMethod.Sjd2 && Reuse == DraftReuse.Threshold)
            throw SettingError.For("reuse", "reuse: sjd2 re-drafts with the coupled rule or none (fresh samples, as published); the threshold rule applies to sjd++.");
        if (ReuseThreshold is not null && Reuse != DraftReuse.Threshold)
            throw SettingError.For("reuse_threshold", $"reuse_threshold applies to the threshold reuse rule, not to {Reuse.ToString().ToLowerInvariant()}.");
        if (TreeWidth is int tw && tw < 1)
            throw SettingError.For("tree", $"tree width must be at least 1 (1 = chain drafts), got {tw}.");
        if (TreeDepth is int td && td < 0)
            throw SettingError.For("tree", $"tree depth must be at least 0 (0 = chain drafts), got {td}.");
        if ((TreeWidth is not null || TreeDepth is not null) && Method != DecodingMethod.Pac)
            throw SettingError.For("tree", $"tree applies to method pac, not {DecodingMethodNames.ToName(Method)}.");
        if (ReseedAfterStalls is int stalls && stalls < 0)
            throw SettingError.For("reseed", $"reseed must be 0 (never) or more one-token passes, got {stalls}; e.g. {DefaultReseedAfterStalls}.");
        if (ReseedAfterStalls is not null && Method == DecodingMethod.Ar)
            throw SettingError.For("reseed", "reseed applies to the speculative methods, not ar.");
        if (!Enum.IsDefined(Reuse)) throw new Sjd2Exception($"unknown draft reuse rule {Reuse}.");
        if (DraftInit is { } init && !Enum.IsDefined(init)) throw new Sjd2Exception($"unknown draft initialisation {init}.");
        if (KvMode is { } kvMode && !Enum.IsDefined(kvMode)) throw new Sjd2Exception($"unknown KV mode {KvMode}.");
        if (Schedule is { } schedule && !Enum.IsDefined(schedule)) throw new Sjd2Exception($"unknown SJD2 schedule {schedule}.");
        if (KvNoiseLimit is float kvLimit && !(kvLimit >= 0 && kvLimit <= 1))
            throw SettingError.For("kv", $"kv noise limit must be in [0, 1], got {kvLimit}; e.g. {DefaultKvNoiseLimit}.");
        if (KvNoiseLimit is not null && KvMode != Sjd2KvMode.Limit)
            throw SettingError.For("kv", $"a kv noise limit applies to the limit KV mode, not {KvMode?.ToString() ?? "the default"}.");
        if (DraftInit == DraftInitialization.Noise && Method != DecodingMethod.Sjd2)
            throw SettingError.For("init", $"init noise applies to method sjd2, not {DecodingMethodNames.ToName(Method)}; use random, horizontal or vertical.");
        Sjd2Spec? noise = null;
        if (Method == DecodingMethod.Sjd2)
        {
            noise = manifest.Sjd2 ?? throw SettingError.For("method",
                $"model {manifest.Name} is not trained for SJD2 (its model.json has no sjd2 section and the transformer no noise_levels input); use method sjd or sjd++.");
        }
        var scheduleUsed = Schedule ?? DefaultSchedule;
        if (noise is not null && DenoiseSteps is int n && scheduleUsed == Sjd2Schedule.PerPass) noise = noise with { Steps = n };
        int window = Window ?? (AutoWindow ? DefaultAutoWindowLimit : DefaultWindow);
        var initUsed = DraftInit ?? DefaultDraftInit;
        return new SpeculativeSettings(window, AutoWindow, Method == DecodingMethod.Sjd2 && initUsed == DraftInitialization.Noise ? null : initUsed,
            Method is DecodingMethod.SjdPlusPlus or DecodingMethod.Sjd2 ? Reuse : Method == DecodingMethod.Pac && !PacWithoutReuse ? DraftReuse.Coupled : null,
            ReuseThreshold ?? DefaultReuseThreshold,
            noise, KvMode ?? DefaultKvMode(scheduleUsed), AcceptNoise ?? DefaultAcceptNoise, AcceptEveryDraft,
            KvNoiseLimit ?? DefaultKvNoiseLimit, scheduleUsed, scheduleUsed == Sjd2Schedule.Window ? DenoiseSteps : null,
            TreeWidth ?? DefaultTreeWidth, TreeDepth ?? DefaultTreeDepth, StaleContinuation, ReseedAfterStalls ?? DefaultReseedAfterStalls);
    }
}
