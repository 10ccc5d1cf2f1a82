namespace Sjd2Onnx.Evaluation;

/// <summary>How well the evaluator agrees with rendered ground truth (see <see cref="ShapesGroundTruth.Validate"/>).</summary>
/// <param name="Images">Number of ground-truth images.</param>
/// <param name="Agreed">Images whose own caption the evaluator accepts.</param>
/// <param name="AgreedFullLabels">Images the evaluator accepts against their full labels (every size stated).</param>
/// <param name="Disagreements">Images whose own caption was rejected: file, caption and the failed attributes.</param>
/// <param name="Mismatches">Per corruption kind (color, shape, size, position, relation, count): how many wrong captions were rejected, of how many.</param>
/// <param name="Accepted">Wrong captions the evaluator accepted: file, corruption kind and the wrong caption.</param>
public sealed record ShapesValidationReport(
    int Images,
    int Agreed,
    int AgreedFullLabels,
    IReadOnlyList<(string File, string Prompt, string Failures)> Disagreements,
    IReadOnlyDictionary<string, (int Rejected, int Total)> Mismatches,
    IReadOnlyList<(string File, string Kind, string Prompt)> Accepted)
{
    /// <summary>Fraction of images whose own caption is accepted.</summary>
    public double Agreement => Images == 0 ? 0 : (double)Agreed / Images;

    /// <summary>Fraction of wrong captions rejected, over all corruption kinds.</summary>
    public double RejectionRate
    {
        get
        {
            int total = Mismatches.Values.Sum(m => m.Total);
            return total == 0 ? 0 : (double)Mismatches.Values.Sum(m => m.Rejected) / total;
        }
    }
}
