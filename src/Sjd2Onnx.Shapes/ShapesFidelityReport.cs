namespace Sjd2Onnx.Evaluation;

/// <summary>
/// How far the distribution of generated scenes is from the world's for the same prompts (see
/// <see cref="ShapesFidelity"/>). Every distance is in [0, 1]: 0 = the same distribution,
/// 1 = as different as the attribute allows (or more, for the capped Wasserstein distances).
/// </summary>
/// <param name="Score">Mean of the per-attribute distances: the one-number fidelity gap (lower is better).</param>
/// <param name="Distances">Per attribute (<see cref="ShapesFidelity.AttributeNames"/>): the distance; attributes no image could measure are left out.</param>
/// <param name="Images">Images compared on the generated side.</param>
public sealed record ShapesFidelityReport(double Score, IReadOnlyDictionary<string, double> Distances, int Images);
