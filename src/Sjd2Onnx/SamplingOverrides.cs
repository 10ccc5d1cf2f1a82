using Sjd2Onnx.Sampling;

namespace Sjd2Onnx;

/// <summary>Sampling values of one generation; a null one is the model's default.</summary>
public sealed record SamplingOverrides
{
    /// <summary>Guidance scale; 1 turns CFG off.</summary>
    public float? CfgScale { get; init; }

    /// <summary>Sampling temperature (&gt; 0).</summary>
    public float? Temperature { get; init; }

    /// <summary>Top-k (0 = off).</summary>
    public int? TopK { get; init; }

    /// <summary>Top-p in (0, 1] (1 = off).</summary>
    public float? TopP { get; init; }

    /// <summary>The setting keys of the sampling values.</summary>
    internal static IReadOnlyList<string> Keys { get; } = ["cfg", "temperature", "top_k", "top_p"];

    /// <summary>These values with the setting <paramref name="key"/> (one of <see cref="Keys"/>) read from <paramref name="value"/>.</summary>
    internal SamplingOverrides With(string key, string value) => key switch
    {
        "cfg" => this with { CfgScale = SettingValue.Float(key, value) },
        "temperature" => this with { Temperature = SettingValue.Float(key, value) },
        "top_k" => this with { TopK = SettingValue.Int(key, value) },
        "top_p" => this with { TopP = SettingValue.Float(key, value) },
        _ => throw new ArgumentException($"no sampling setting {key}.", nameof(key)),
    };

    /// <summary>The sampling settings these values give on top of a model's defaults, checked.</summary>
    internal SamplingSettings Resolve(SamplingSettings defaults)
    {
        var s = new SamplingSettings(CfgScale ?? defaults.CfgScale, Temperature ?? defaults.Temperature, TopK ?? defaults.TopK, TopP ?? defaults.TopP);
        s.Validate();
        return s;
    }
}
