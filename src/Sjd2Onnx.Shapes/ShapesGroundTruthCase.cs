using Sjd2Onnx.Imaging;

namespace Sjd2Onnx.Evaluation;

/// <summary>One rendered ground-truth image of the shapes world with its caption and true scene.</summary>
/// <param name="File">PNG file name inside the data folder.</param>
/// <param name="Prompt">The caption the image was rendered for.</param>
/// <param name="Truth">The scene as rendered: every shape with its size (captions may leave sizes out), and the position or relation.</param>
/// <param name="Image">The pixels.</param>
public sealed record ShapesGroundTruthCase(string File, string Prompt, ShapesPrompt Truth, RgbImage Image);
