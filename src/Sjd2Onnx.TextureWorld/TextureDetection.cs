namespace Sjd2Onnx.Evaluation;

/// <summary>
/// One object found in an image: its colour, its pixel count and, unless it is a fragment (fewer
/// than the evaluator's minimum object area), the shape fitted to it.
/// </summary>
/// <param name="Color">Palette colour name.</param>
/// <param name="Pixels">Pixels of the region (or merged regions).</param>
/// <param name="Fit">The fitted shape; null for a fragment.</param>
internal sealed record TextureDetection(string Color, int Pixels, TextureShapeFit? Fit)
{
    /// <summary>Whether the region is too small to be an object (it still counts as one).</summary>
    public bool Fragment => Fit is null;
}
