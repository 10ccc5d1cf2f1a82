namespace Sjd2Onnx.Sampling;

/// <summary>How logits become a distribution: classifier-free guidance, temperature, top-k, top-p.</summary>
/// <param name="CfgScale">Guidance scale s in u + s·(c − u); 1 disables the unconditional row; |s| ≤ <see cref="MaxCfgScale"/>.</param>
/// <param name="Temperature">Logits are divided by it; in [<see cref="MinTemperature"/>, <see cref="MaxTemperature"/>].</param>
/// <param name="TopK">Keep the k most likely codes; 0 keeps all.</param>
/// <param name="TopP">Keep the smallest most-likely set with mass ≥ p; 1 keeps all.</param>
public sealed record SamplingSettings(float CfgScale, float Temperature, int TopK, float TopP)
{
    /// <summary>Largest guidance scale magnitude accepted.</summary>
    public const float MaxCfgScale = 100f;

    /// <summary>Smallest temperature accepted (close to greedy sampling).</summary>
    public const float MinTemperature = 0.001f;

    /// <summary>Largest temperature accepted (close to uniform sampling).</summary>
    public const float MaxTemperature = 100f;

    /// <summary>Whether an unconditional row is needed.</summary>
    public bool UsesGuidance => CfgScale != 1f;

    /// <summary>Throws <see cref="Sjd2Exception"/> naming the first impossible value.</summary>
    public void Validate()
    {
        // Far outside these ranges the logits overflow to infinities and the samples are noise.
        if (!(Math.Abs(CfgScale) <= MaxCfgScale))
            throw SettingError.For("cfg", $"cfg must be a number in [-{MaxCfgScale}, {MaxCfgScale}], got {CfgScale}; 1 turns guidance off, 3 is a strong one.");
        if (!(Temperature >= MinTemperature && Temperature <= MaxTemperature))
            throw SettingError.For("temperature", $"temperature must be in [{MinTemperature}, {MaxTemperature}], got {Temperature}; 1 samples the model as trained.");
        if (TopK < 0)
            throw SettingError.For("top_k", $"top_k must be 0 or more (0 turns it off), got {TopK}.");
        if (!(TopP > 0 && TopP <= 1))
            throw SettingError.For("top_p", $"top_p must be in (0, 1], got {TopP}; 1 turns it off.");
    }
}
