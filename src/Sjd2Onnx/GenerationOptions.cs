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

    /// <summary>The sampling settings these options give on top of a model's defaults.</summary>
    public SamplingSettings ResolveSampling(SamplingSettings defaults)
    {
        var s = new SamplingSettings(CfgScale ?? defaults.CfgScale, Temperature ?? defaults.Temperature, TopK ?? defaults.TopK, TopP ?? defaults.TopP);
        s.Validate();
        return s;
    }
}
