using Sjd2Onnx.Decoding;
using Sjd2Onnx.Model;

namespace Sjd2Onnx;

/// <summary>Autoregressive decoding: one token per pass; it has no options of its own.</summary>
public sealed record ArOptions : MethodOptions
{
    /// <inheritdoc/>
    public override DecodingMethod Method => DecodingMethod.Ar;

    internal override string Name => "ar";

    internal override IImageTokenDecoder CreateDecoder(ModelManifest manifest, WindowTuner? tuner) => new ArDecoder();

    internal override IReadOnlyList<string> Keys => [];

    internal override MethodOptions With(string key, string value) => throw new ArgumentException($"ar takes no setting {key}.", nameof(key));

    internal override void Validate()
    {
    }
}
