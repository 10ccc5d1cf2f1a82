namespace Sjd2Onnx;

/// <summary>What SJD2 keeps in the KV cache for tokens accepted while their window input was still noisy.</summary>
public enum Sjd2KvMode
{
    /// <summary>Keep the rows computed from the noisy input (no extra work; later passes see a slightly wrong context).</summary>
    Approximate,

    /// <summary>Drop those rows and feed the committed tokens' clean embeddings at the front of the next window.</summary>
    Exact,

    /// <summary>
    /// Keep the rows of tokens fed at a noise level up to <see cref="Sjd2Options.KvNoiseLimit"/>;
    /// from the first token fed noisier than that, re-feed clean as <see cref="Exact"/> does.
    /// </summary>
    Limit,
}
