using Sjd2Onnx.Imaging;

namespace Sjd2Onnx.Evaluation;

/// <summary>One image of the corruption set: a scene drawn by the world's rules for a prompt, with one defect painted in.</summary>
/// <param name="Kind">The defect (see <see cref="ShapesCorruptionSet.Kinds"/>); <c>clean</c> has none.</param>
/// <param name="Prompt">The prompt the scene was drawn for.</param>
/// <param name="Image">The rendered image.</param>
internal sealed record ShapesCorruptionCase(string Kind, string Prompt, RgbImage Image);
