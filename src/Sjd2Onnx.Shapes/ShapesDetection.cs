namespace Sjd2Onnx.Evaluation;

/// <summary>
/// One foreground component found in an image, classified with the world's colours, kinds and sizes.
/// Coordinates and lengths are in the world's pixel units (images of another size are scaled).
/// </summary>
/// <param name="Color">Nearest world colour, or null when the component's colour is far from every world colour.</param>
/// <param name="Kind">Shape kind whose ideal template overlaps the component best, or null when none overlaps it well (IoU below 0.7).</param>
/// <param name="Size">Nearest world size by equivalent extent.</param>
/// <param name="X">Centroid, x to the right.</param>
/// <param name="Y">Centroid, y downwards.</param>
/// <param name="Area">Area in world pixels.</param>
/// <param name="Fill">Area over bounding-box area (circle ≈ 0.785, square ≈ 1, triangle ≈ 0.5).</param>
/// <param name="TopBottomRatio">Area of the upper half of the bounding box over the lower half (≈ 1 for circle and square, ≈ 1/3 for the upward triangle).</param>
/// <param name="KindIou">Intersection over union of the component with the ideal shape of <paramref name="Kind"/> (1 = perfect).</param>
/// <param name="MeanRgb">The component's colour (median of its inner pixels).</param>
public sealed record ShapesDetection(string? Color, string? Kind, string Size, double X, double Y, double Area,
    double Fill, double TopBottomRatio, double KindIou, (byte R, byte G, byte B) MeanRgb);
