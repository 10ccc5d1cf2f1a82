namespace Sjd2Onnx.Evaluation;

/// <summary>
/// One painting step of <see cref="ShapesRenderer"/>: every point the region contains takes the
/// colour, or the background's when the colour is null (bites and tears are painted that way).
/// </summary>
/// <param name="Contains">Whether a point (world pixels, continuous) is in the region.</param>
/// <param name="Color">The paint, or null for the background.</param>
/// <param name="Bounds">A box (world pixels: left, top, right, bottom) the region lies in, so painting skips the rest; null for the whole image.</param>
internal sealed record ShapesPaint(Func<double, double, bool> Contains, (byte R, byte G, byte B)? Color, (double X0, double Y0, double X1, double Y1)? Bounds = null)
{
    /// <summary>The box of a disc.</summary>
    public static (double, double, double, double) Disc(double x, double y, double r) => (x - r, y - r, x + r, y + r);
}
