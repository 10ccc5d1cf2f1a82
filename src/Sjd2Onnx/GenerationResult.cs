using Sjd2Onnx.Decoding;
using Sjd2Onnx.Imaging;
using Sjd2Onnx.Sampling;

namespace Sjd2Onnx;

/// <summary>One generated image with its codes and decoding statistics.</summary>
/// <param name="Codes">Image codes, row-major (grid height × width).</param>
/// <param name="Image">Decoded pixels.</param>
/// <param name="Statistics">Passes, acceptance and timings.</param>
public sealed record GenerationResult(int[] Codes, RgbImage Image, PassStatistics Statistics)
{
    /// <summary>The prompt the image was generated from.</summary>
    public string Prompt { get; init; } = "";

    /// <summary>The options of this image, its seed included.</summary>
    public GenerationOptions Options { get; init; } = new();

    /// <summary>The sampling settings in effect: the options over the model's defaults.</summary>
    public SamplingSettings Sampling { get; init; } = new(1, 1, 0, 1);

    /// <summary>The model's name.</summary>
    public string ModelName { get; init; } = "";
}
