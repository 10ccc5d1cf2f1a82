using Sjd2Onnx.Decoding;
using Sjd2Onnx.Model;

namespace Sjd2Onnx;

/// <summary>Speculative Jacobi denoising decoding (models trained for it; lossless with accept noise 0 and exact KV).</summary>
public sealed record Sjd2Options : SpeculativeOptions
{
    internal const float DefaultKvNoiseLimit = 0.1f;
    private const int MaxDenoiseSteps = 10_000;

    /// <inheritdoc/>
    public override DecodingMethod Method => DecodingMethod.Sjd2;

    internal override string Name => "sjd2";

    private protected override IImageTokenDecoder CreateDecoder(SpeculativeSettings settings, WindowTuner? tuner) => new Sjd2Decoder(settings, tuner);

    /// <summary>Re-drafting: <see cref="DraftReuse.Coupled"/> or <see cref="DraftReuse.None"/> (fresh samples, as published).</summary>
    public DraftReuse Reuse { get; init; } = DraftReuse.Coupled;

    /// <summary>How drafts' noise levels are scheduled.</summary>
    public Sjd2Schedule Schedule { get; init; } = Sjd2Schedule.Window;

    /// <summary>
    /// Noise levels between a clean draft and pure noise: the per-pass grid (null = the model's
    /// <c>sjd2.steps</c>) or the window's ramp (null = one per noisy window position).
    /// </summary>
    public int? DenoiseSteps { get; init; }

    /// <summary>KV treatment of tokens accepted while noisy; null = <see cref="DefaultKvMode"/> of the schedule.</summary>
    public Sjd2KvMode? KvMode { get; init; }

    /// <summary>With <see cref="Sjd2KvMode.Limit"/>: KV rows of tokens fed at σ ≤ this are kept, in [0, 1]; null = 0.1.</summary>
    public float? KvNoiseLimit { get; init; }

    /// <summary>Verification goes on past a draft only while the inputs were fed at σ ≤ this, in [0, 1]; 1 as published, 0 (with exact KV) lossless.</summary>
    public float AcceptNoise { get; init; } = 1f;

    /// <summary>
    /// The KV mode of a schedule: approximate for the window schedule (its inputs are noised
    /// embeddings of the very tokens committed), exact for the per-pass one (whose latent can carry
    /// superseded drafts). docs/decoding.md has the numbers.
    /// </summary>
    internal static Sjd2KvMode DefaultKvMode(Sjd2Schedule schedule) =>
        schedule == Sjd2Schedule.PerPass ? Sjd2KvMode.Exact : Sjd2KvMode.Approximate;

    private protected override bool TakesNoiseInit => true;

    internal override IReadOnlyList<string> Keys => [.. base.Keys, "reuse", "denoise_steps", "kv", "accept_noise", "schedule"];

    internal override MethodOptions With(string key, string value)
    {
        switch (key)
        {
            case "reuse": return this with { Reuse = SettingValue.Reuse(key, value) };
            case "denoise_steps": return this with { DenoiseSteps = SettingValue.Int(key, value) };
            case "accept_noise": return this with { AcceptNoise = SettingValue.Float(key, value) };
            case "schedule":
                return this with { Schedule = SettingValue.OneOf(key, value, "window or per-pass", ("window", Sjd2Schedule.Window), ("per-pass", Sjd2Schedule.PerPass)) };
            case "kv":
                var (mode, limit) = SettingValue.Kv(key, value);
                return this with { KvMode = mode, KvNoiseLimit = limit };
            default: return base.With(key, value);
        }
    }

    internal override void Validate()
    {
        base.Validate();
        if (!Enum.IsDefined(Reuse)) throw new Sjd2Exception($"unknown draft reuse rule {Reuse}.");
        if (Reuse == DraftReuse.Threshold)
            throw SettingError.For("reuse", "reuse threshold applies to method sjd++; sjd2 takes coupled or none (fresh samples, as published).");
        if (!Enum.IsDefined(Schedule)) throw new Sjd2Exception($"unknown SJD2 schedule {Schedule}.");
        if (KvMode is { } kvMode && !Enum.IsDefined(kvMode)) throw new Sjd2Exception($"unknown KV mode {kvMode}.");
        if (DenoiseSteps is int steps && (steps < 1 || steps > MaxDenoiseSteps))
            throw SettingError.For("denoise_steps", $"denoise_steps must be at least 1 and at most {MaxDenoiseSteps}, got {steps}.");
        if (!(AcceptNoise >= 0 && AcceptNoise <= 1))
            throw SettingError.For("accept_noise", $"accept_noise must be in [0, 1], got {AcceptNoise}; 0 is lossless, 1 as published.");
        if (KvNoiseLimit is float kvLimit && !(kvLimit >= 0 && kvLimit <= 1))
            throw SettingError.For("kv", $"kv noise limit must be in [0, 1], got {kvLimit}; e.g. {DefaultKvNoiseLimit}.");
        if (KvNoiseLimit is not null && KvMode != Sjd2KvMode.Limit)
            throw SettingError.For("kv", $"a kv noise limit applies to the limit KV mode, not {KvMode?.ToString() ?? "the default"}.");
    }

    private protected override SpeculativeSettings Specialize(SpeculativeSettings common, ModelManifest manifest)
    {
        var noise = manifest.Sjd2 ?? throw SettingError.For("method",
            $"model {manifest.Name} is not trained for SJD2 (its model.json has no sjd2 section and the transformer no noise_levels input); use method sjd or sjd++.");
        if (DenoiseSteps is int n && Schedule == Sjd2Schedule.PerPass) noise = noise with { Steps = n };
        return common with
        {
            Init = DraftInit == DraftInitialization.Noise ? null : DraftInit,
            Reuse = Reuse,
            Noise = noise,
            KvMode = KvMode ?? DefaultKvMode(Schedule),
            AcceptNoise = AcceptNoise,
            KvNoiseLimit = KvNoiseLimit ?? DefaultKvNoiseLimit,
            Schedule = Schedule,
            WindowLevels = Schedule == Sjd2Schedule.Window ? DenoiseSteps : null,
        };
    }
}
