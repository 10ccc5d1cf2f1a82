namespace Sjd2Onnx.Evaluation;

/// <summary>One object as an entropy-world prompt describes it.</summary>
/// <param name="Size">Size name (<c>big</c>, <c>small</c>), or null when the prompt leaves the size out.</param>
/// <param name="Color">Colour name.</param>
/// <param name="Texture">Surface texture word, or null when the prompt names none.</param>
/// <param name="Kind">Shape kind (circle, square, triangle).</param>
public sealed record TextureObject(string? Size, string Color, string? Texture, string Kind);
