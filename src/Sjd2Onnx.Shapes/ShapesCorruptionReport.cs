namespace Sjd2Onnx.Evaluation;

/// <summary>The evaluator on the corruption set (see <see cref="ShapesCorruptionSet"/>): per kind, how many images it accepted.</summary>
/// <param name="Kinds">Per corruption kind, in <see cref="ShapesCorruptionSet.Kinds"/> order: images accepted and images in all.</param>
public sealed record ShapesCorruptionReport(IReadOnlyList<(string Kind, int Accepted, int Total)> Kinds)
{
    /// <summary>Share of a kind's images the evaluator accepted; NaN when the kind has none.</summary>
    public double Acceptance(string kind)
    {
        var (_, accepted, total) = Kinds.First(k => k.Kind == kind);
        return total == 0 ? double.NaN : (double)accepted / total;
    }
}
