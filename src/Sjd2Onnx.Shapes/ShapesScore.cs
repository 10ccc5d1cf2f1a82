namespace Sjd2Onnx.Evaluation;

/// <summary>How well one image matches its shapes-world prompt.</summary>
public sealed class ShapesScore
{
    /// <summary>Creates a score from the per-attribute results.</summary>
    public ShapesScore(ShapesPrompt expected, IReadOnlyDictionary<string, bool> attributes, IReadOnlyList<ShapesDetection> detected)
        : this(expected, attributes, detected, [])
    {
    }

    /// <summary>Creates a score from the per-attribute results and the detection matched to each prompt object.</summary>
    public ShapesScore(ShapesPrompt expected, IReadOnlyDictionary<string, bool> attributes, IReadOnlyList<ShapesDetection> detected,
        IReadOnlyList<ShapesDetection?> matched)
    {
        Matched = matched;
        Expected = expected;
        Attributes = attributes;
        Detected = detected;
        Overall = attributes.Values.All(v => v);
    }

    /// <summary>True when every attribute the prompt states is satisfied.</summary>
    public bool Overall { get; }

    /// <summary>
    /// Per stated attribute, whether the image satisfies it: <c>count</c> (number of shapes),
    /// <c>color</c> (and colour purity), <c>shape</c> (and solidity), <c>size</c> (a world size
    /// within tolerance, the stated one when the prompt states it), and
    /// <c>position</c> (one shape) or <c>relation</c> (two shapes).
    /// </summary>
    public IReadOnlyDictionary<string, bool> Attributes { get; }

    /// <summary>What the prompt asks for.</summary>
    public ShapesPrompt Expected { get; }

    /// <summary>The shapes found in the image, largest first.</summary>
    public IReadOnlyList<ShapesDetection> Detected { get; }

    /// <summary>Per prompt object (in prompt order), the detection the scorer matched to it; null when none was left. Empty when not recorded.</summary>
    public IReadOnlyList<ShapesDetection?> Matched { get; }

    /// <summary>The names of the attributes that failed, comma-separated ("" when none did).</summary>
    public string Failures => string.Join(", ", Attributes.Where(a => !a.Value).Select(a => a.Key));
}
