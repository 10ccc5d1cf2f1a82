using Sjd2Onnx.Decoding;
using Sjd2Onnx.Model;

namespace Sjd2Onnx;

/// <summary>SJD with draft reuse (lossless).</summary>
public sealed record SjdPlusPlusOptions : SpeculativeOptions
{
    internal const float DefaultReuseThreshold = 0.1f;

    /// <inheritdoc/>
    public override DecodingMethod Method => DecodingMethod.SjdPlusPlus;

    internal override string Name => "sjd++";

    // A "+" is awkward in some shells and URLs.
    internal override IReadOnlyList<string> Aliases => ["sjdpp", "sjdplusplus", "sjd-plus-plus"];

    private protected override IImageTokenDecoder CreateDecoder(SpeculativeSettings settings, WindowTuner? tuner) => new SjdDecoder(settings, tuner);

    /// <summary>The draft-reuse rule; null: coupled, or threshold when <see cref="ReuseThreshold"/> is set.</summary>
    public DraftReuse? Reuse { get; init; }

    /// <summary>Threshold rule: a draft survives a pass when the new distribution gives it at least τ, in (0, 1]; null = 0.1.</summary>
    public float? ReuseThreshold { get; init; }

    internal override IReadOnlyList<string> Keys => [.. base.Keys, "reuse", "reuse_threshold"];

    internal override MethodOptions With(string key, string value) => key switch
    {
        "reuse" => this with { Reuse = SettingValue.Reuse(key, value) },
        "reuse_threshold" => this with { ReuseThreshold = SettingValue.Float(key, value) },
        _ => base.With(key, value),
    };

    internal override void Validate()
    {
        base.Validate();
        if (Reuse is { } rule && !Enum.IsDefined(rule)) throw new Sjd2Exception($"unknown draft reuse rule {rule}.");
        if (ReuseThreshold is float tau && !(tau > 0 && tau <= 1))
            throw SettingError.For("reuse_threshold", $"reuse_threshold must be in (0, 1], got {tau}; e.g. {DefaultReuseThreshold}.");
        if (ReuseThreshold is not null && Reuse is { } other && other != DraftReuse.Threshold)
            throw SettingError.For("reuse_threshold", $"reuse_threshold applies to reuse threshold, not {other.ToString().ToLowerInvariant()}; leave reuse out or set it to threshold.");
    }

    private protected override SpeculativeSettings Specialize(SpeculativeSettings common, ModelManifest manifest) => common with
    {
        // A threshold only means something for the threshold rule, so giving one selects it.
        Reuse = Reuse ?? (ReuseThreshold is null ? DraftReuse.Coupled : DraftReuse.Threshold),
        ReuseThreshold = ReuseThreshold ?? DefaultReuseThreshold,
    };
}
