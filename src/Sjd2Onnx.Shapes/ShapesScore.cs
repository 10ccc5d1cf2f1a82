namespace Sjd2Onnx.Evaluation;

/// <summary>How well one image matches its shapes-world prompt.</summary>
public sealed class ShapesScore
{
    /// <summary>Creates a score from the per-attribute results.</summary>
    public ShapesScore(ShapesPrompt expected, IReadOnlyDictionary<string, bool> attributes, IReadOnlyList<ShapesDetection> detected)
    {
        Expected = expected;
        Attributes = attributes;
        Detected = detected;
        Overall = attributes.Values.All(v => v);
    }

    /// <summary>True when every attribute the prompt states is satisfied.</summary>
    public bool Overall { get; }

    /// <summary>
    /// Per stated attribute, whether the image satisfies it: <c>count</c> (number of shapes),
    /// <c>color</c>, <c>shape</c>, <c>size</c> (only when the prompt states a size), and
    /// <c>position</c> (one shape) or <c>relation</c> (two shapes).
    /// </summary>
    public IReadOnlyDictionary<string, bool> Attributes { get; }

    /// <summary>What the prompt asks for.</summary>
    public ShapesPrompt Expected { get; }

    /// <summary>The shapes found in the image, largest first.</summary>
    public IReadOnlyList<ShapesDetection> Detected { get; }

    /// <summary>The names of the attributes that failed, comma-separated ("" when none did).</summary>
    public string Failures => string.Join(", ", Attributes.Where(a => !a.Value).Select(a => a.Key));
}
