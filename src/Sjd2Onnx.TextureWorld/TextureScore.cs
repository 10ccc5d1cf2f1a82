namespace Sjd2Onnx.Evaluation;

/// <summary>How well one image matches its entropy-world prompt, attribute by attribute.</summary>
public sealed class TextureScore
{
    internal TextureScore(TexturePrompt expected, IReadOnlyDictionary<string, bool?> attributes, int objectsFound)
    {
        Expected = expected;
        Attributes = attributes;
        ObjectsFound = objectsFound;
        Overall = attributes.Values.All(v => v is not false);
    }

    /// <summary>True when every attribute the prompt states is satisfied.</summary>
    public bool Overall { get; }

    /// <summary>
    /// Per attribute in <see cref="TextureEvaluator.AttributeNames"/> order: whether the image
    /// satisfies it, or null when the prompt states nothing of that kind (<c>position</c> without a
    /// region, <c>relation</c> for one object).
    /// </summary>
    public IReadOnlyDictionary<string, bool?> Attributes { get; }

    /// <summary>What the prompt asks for.</summary>
    public TexturePrompt Expected { get; }

    /// <summary>Objects found in the image, fragments included.</summary>
    public int ObjectsFound { get; }

    /// <summary>The names of the attributes that failed, comma-separated ("" when none did).</summary>
    public string Failures => string.Join(", ", Attributes.Where(a => a.Value is false).Select(a => a.Key));
}
