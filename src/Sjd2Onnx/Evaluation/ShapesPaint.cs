namespace Sjd2Onnx.Evaluation;

/// <summary>
/// One painting step of <see cref="ShapesRenderer"/>: every point the region contains takes the
/// colour, or the background's when the colour is null (bites and tears are painted that way).
/// </summary>
/// <param name="Contains">Whether a point (world pixels, continuous) is in the region.</param>
/// <param name="Color">The paint, or null for the background.</param>
internal sealed record ShapesPaint(Func<double, double, bool> Contains, (byte R, byte G, byte B)? Color);
