namespace Sjd2Onnx;

/// <summary>How image tokens are decoded.</summary>
public enum DecodingMethod
{
    /// <summary>Autoregressive: one forward pass per token (the baseline).</summary>
    Ar,
}
