namespace Sjd2Onnx.Evaluation;

/// <summary>
/// A scene of the shapes world as its rules draw it for a prompt: the shapes with their sizes and
/// centres, the background shade and whether it carries the checker texture.
/// </summary>
/// <param name="Prompt">The attributes the prompt states (sizes may be left out).</param>
/// <param name="Objects">The shapes in prompt order, each with the size the scene gave it.</param>
/// <param name="Background">Index into <see cref="ShapesWorld.Backgrounds"/>.</param>
/// <param name="Textured">Whether the background carries the checker texture.</param>
internal sealed record ShapesScene(ShapesPrompt Prompt, IReadOnlyList<ShapesSceneObject> Objects, int Background, bool Textured);
