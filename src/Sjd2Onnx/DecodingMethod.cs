namespace Sjd2Onnx;

/// <summary>How image tokens are decoded.</summary>
public enum DecodingMethod
{
    /// <summary>Autoregressive: one forward pass per token (the baseline).</summary>
    Ar,

    /// <summary>Speculative Jacobi decoding: a window of drafts verified per pass; lossless.</summary>
    Sjd,

    /// <summary>SJD with draft reuse: high-confidence drafts survive a pass instead of being resampled; lossless.</summary>
    SjdPlusPlus,

    /// <summary>
    /// SJD with proactive drafting (a tree of candidates after the anchor, verified exactly with tree
    /// attention) and adaptive continuation made exact (coupled reuse past a rejection); lossless.
    /// Without tree attention in the model it decodes chains: SJD++ with coupled reuse.
    /// </summary>
    Pac,

    /// <summary>Speculative Jacobi-denoising decoding: drafts start as embedding noise; needs a model trained for it; not lossless.</summary>
    Sjd2,
}
