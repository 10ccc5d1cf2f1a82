using Sjd2Onnx.Decoding;
using Sjd2Onnx.Model;

namespace Sjd2Onnx;

/// <summary>Speculative Jacobi decoding (lossless): fresh drafts past a rejection.</summary>
public sealed record SjdOptions : SpeculativeOptions
{
    /// <inheritdoc/>
    public override DecodingMethod Method => DecodingMethod.Sjd;

    internal override string Name => "sjd";

    private protected override IImageTokenDecoder CreateDecoder(SpeculativeSettings settings, WindowTuner? tuner) => new SjdDecoder(settings, tuner);

    private protected override SpeculativeSettings Specialize(SpeculativeSettings common, ModelManifest manifest) => common;
}
