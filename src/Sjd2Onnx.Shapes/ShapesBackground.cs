namespace Sjd2Onnx.Evaluation;

/// <summary>An image's background as measured by the evaluator.</summary>
/// <param name="Shade">Index of the nearest world background (<see cref="ShapesWorld.Backgrounds"/>).</param>
/// <param name="Level">Mean grey level of the background pixels.</param>
/// <param name="TextureAmplitude">Mean signed deviation of the background pixels from their level along the world's checker pattern (≈ the world's amplitude when textured, ≈ 0 when plain).</param>
/// <param name="Textured">Whether <paramref name="TextureAmplitude"/> is above half the world's amplitude.</param>
public sealed record ShapesBackground(int Shade, double Level, double TextureAmplitude, bool Textured);
