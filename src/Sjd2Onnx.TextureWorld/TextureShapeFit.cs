namespace Sjd2Onnx.Evaluation;

/// <summary>The best upright shape for a region: kind, its overlap score, fitted centre and extent.</summary>
/// <param name="Kind">The best-fitting kind.</param>
/// <param name="Iou">Its overlap score (occluded pixels weighted), unrounded.</param>
/// <param name="X">Fitted centre, x right.</param>
/// <param name="Y">Fitted centre, y down.</param>
/// <param name="Extent">Fitted extent in pixels (circle diameter, square side, triangle base and height).</param>
internal sealed record TextureShapeFit(string Kind, double Iou, double X, double Y, double Extent);
