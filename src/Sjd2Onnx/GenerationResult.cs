using Sjd2Onnx.Decoding;
using Sjd2Onnx.Imaging;

namespace Sjd2Onnx;

/// <summary>One generated image with its codes and decoding statistics.</summary>
/// <param name="Codes">Image codes, row-major (grid height × width).</param>
/// <param name="Image">Decoded pixels.</param>
/// <param name="Statistics">Passes, acceptance and timings.</param>
public sealed record GenerationResult(int[] Codes, RgbImage Image, PassStatistics Statistics);
