using Sjd2Onnx.Decoding;
using Sjd2Onnx.Model;
using Sjd2Onnx.Sampling;

namespace Sjd2Onnx;

/// <summary>Options of one generation; unset sampling values fall back to the model's defaults.</summary>
public sealed record GenerationOptions
{
    /// <summary>Decoding method.</summary>
    public DecodingMethod Method { get; init; } = DecodingMethod.Ar;

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
    /// How new drafts are initialised; null = the method's default: <see cref="DefaultDraftInit"/>
    /// for SJD and SJD++, pure embedding noise for SJD2 (with a value, SJD2 seeds each new slot
    /// with that prior's token, its embedding noised to the middle of the schedule).
    /// </summary>
    public DraftInitialization? DraftInit { get; init; }

    /// <summary>SJD++: the draft-reuse rule.</summary>
    public DraftReuse Reuse { get; init; } = DraftReuse.Coupled;

    /// <summary>SJD++ with <see cref="DraftReuse.Threshold"/>: a draft survives a pass when the new distribution gives it at least τ; in (0, 1]; null = <see cref="DefaultReuseThreshold"/>.</summary>
    public float? ReuseThreshold { get; init; }

    /// <summary>SJD2: denoising steps from pure noise to a clean draft; null = the model's <c>sjd2.steps</c>.</summary>
    public int? DenoiseSteps { get; init; }

    /// <summary>SJD2: KV cache treatment of tokens accepted while noisy.</summary>
    public Sjd2KvMode KvMode { get; init; } = DefaultKvMode;

    /// <summary>
    /// SJD2: verification goes on past a draft only while every input the next output saw was fed
    /// at a noise level σ ≤ this limit, in [0, 1]; null = <see cref="DefaultAcceptNoise"/> (1: as
    /// published, never stops). 0 with <see cref="Sjd2KvMode.Exact"/> makes SJD2 lossless.
    /// </summary>
    public float? AcceptNoise { get; init; }

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

    /// <summary>Default SJD2 KV mode.</summary>
    public const Sjd2KvMode DefaultKvMode = Sjd2KvMode.Exact;

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
            throw new Sjd2Exception($"window must be at least 2 (one anchor and one draft), got {w}; use --method ar for one token per pass.");
        if (ReuseThreshold is float tau && !(tau > 0 && tau <= 1))
            throw new Sjd2Exception($"reuse threshold must be in (0, 1], got {tau}; e.g. --reuse-threshold {DefaultReuseThreshold}.");
        if (DenoiseSteps is int steps && steps < 1)
            throw new Sjd2Exception($"denoise steps must be at least 1, got {steps}.");
        if (AcceptNoise is float limit && !(limit >= 0 && limit <= 1))
            throw new Sjd2Exception($"accept-noise limit must be in [0, 1], got {limit}; 0 is lossless, 1 as published.");
        if (AcceptNoise is not null && Method != DecodingMethod.Sjd2)
            throw new Sjd2Exception($"an accept-noise limit applies to SJD2, not {Method}.");
        if (ReuseThreshold is not null && Reuse != DraftReuse.Threshold)
            throw new Sjd2Exception("a reuse threshold applies to the threshold reuse rule (--reuse threshold), not to the coupled one.");
        if (TreeWidth is int tw && tw < 1)
            throw new Sjd2Exception($"tree width must be at least 1 (1 = chain drafts), got {tw}.");
        if (TreeDepth is int td && td < 0)
            throw new Sjd2Exception($"tree depth must be at least 0 (0 = chain drafts), got {td}.");
        if ((TreeWidth is not null || TreeDepth is not null) && Method != DecodingMethod.Pac)
            throw new Sjd2Exception($"a draft tree applies to PAC, not {Method}; use --method pac.");
        if (!Enum.IsDefined(Reuse)) throw new Sjd2Exception($"unknown draft reuse rule {Reuse}.");
        if (DraftInit is { } init && !Enum.IsDefined(init)) throw new Sjd2Exception($"unknown draft initialisation {init}.");
        if (!Enum.IsDefined(KvMode)) throw new Sjd2Exception($"unknown KV mode {KvMode}.");
        Sjd2Spec? noise = null;
        if (Method == DecodingMethod.Sjd2)
        {
            noise = manifest.Sjd2 ?? throw new Sjd2Exception(
                $"model {manifest.Name} is not trained for SJD2 (its model.json has no sjd2 section and the transformer no noise_levels input); use --method sjd.");
            if (DenoiseSteps is int n) noise = noise with { Steps = n };
        }
        int window = Window ?? (AutoWindow ? DefaultAutoWindowLimit : DefaultWindow);
        return new SpeculativeSettings(window, AutoWindow, Method == DecodingMethod.Sjd2 ? DraftInit : DraftInit ?? DefaultDraftInit,
            Method == DecodingMethod.SjdPlusPlus ? Reuse : Method == DecodingMethod.Pac && !PacWithoutReuse ? DraftReuse.Coupled : null,
            ReuseThreshold ?? DefaultReuseThreshold,
            noise, KvMode, AcceptNoise ?? DefaultAcceptNoise, AcceptEveryDraft,
            TreeWidth ?? DefaultTreeWidth, TreeDepth ?? DefaultTreeDepth, StaleContinuation);
    }
}
