namespace Sjd2Onnx.Evaluation;

/// <summary>
/// What the fidelity metric reads from one image, relative to its prompt (world pixels). Values
/// that need a shape the scorer could not match are null.
/// </summary>
/// <param name="CountDelta">Shapes found minus shapes the prompt names.</param>
/// <param name="UnstatedSizes">For each prompt object without a stated size that was found: whether it is the world's biggest size.</param>
/// <param name="Offset">One shape: its centroid minus the nominal centre of the stated position.</param>
/// <param name="PairShift">Two shapes: the mean offset of both centroids from their nominal centres along the axis the relation leaves free (the pair's shared shift).</param>
/// <param name="Background">Shade and texture of the background.</param>
public sealed record ShapesSceneMeasure(int CountDelta, IReadOnlyList<bool> UnstatedSizes, (double X, double Y)? Offset, double? PairShift, ShapesBackground Background);
