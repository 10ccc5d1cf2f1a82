namespace Sjd2Onnx.Sampling;

/// <summary>How logits become a distribution: classifier-free guidance, temperature, top-k, top-p.</summary>
/// <param name="CfgScale">Guidance scale s in u + s·(c − u); 1 disables the unconditional row.</param>
/// <param name="Temperature">Logits are divided by it; must be &gt; 0.</param>
/// <param name="TopK">Keep the k most likely codes; 0 keeps all.</param>
/// <param name="TopP">Keep the smallest most-likely set with mass ≥ p; 1 keeps all.</param>
public sealed record SamplingSettings(float CfgScale, float Temperature, int TopK, float TopP)
{
    /// <summary>Whether an unconditional row is needed.</summary>
    public bool UsesGuidance => CfgScale != 1f;

    /// <summary>Throws <see cref="Sjd2Exception"/> naming the first impossible value.</summary>
    public void Validate()
    {
        if (!float.IsFinite(CfgScale))
            throw new Sjd2Exception($"cfg scale must be a finite number, got {CfgScale}; pass e.g. --cfg 3.");
        if (!float.IsFinite(Temperature) || Temperature <= 0)
            throw new Sjd2Exception($"temperature must be > 0, got {Temperature}; pass e.g. --temperature 1.");
        if (TopK < 0)
            throw new Sjd2Exception($"top-k must be >= 0 (0 = off), got {TopK}.");
        if (!(TopP > 0 && TopP <= 1))
            throw new Sjd2Exception($"top-p must be in (0, 1], got {TopP}; pass 1 to turn it off.");
    }
}
