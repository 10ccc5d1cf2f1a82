namespace Sjd2Onnx.Evaluation;

/// <summary>One shape as a prompt describes it.</summary>
/// <param name="Size">Size name (e.g. <c>big</c>), or null when the prompt leaves the size out.</param>
/// <param name="Color">Colour name.</param>
/// <param name="Kind">Shape kind (circle, square, triangle).</param>
public sealed record ShapesObject(string? Size, string Color, string Kind);
