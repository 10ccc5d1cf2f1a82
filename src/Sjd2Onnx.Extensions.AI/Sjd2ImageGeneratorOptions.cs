namespace Sjd2Onnx.Extensions.AI;

/// <summary>
/// Settings of <see cref="Sjd2ImageGenerator"/>, bindable from configuration (section
/// <see cref="DefaultSectionName"/> by default). The sampling values left null use the model's defaults.
/// </summary>
public sealed class Sjd2ImageGeneratorOptions
{
    /// <summary>The configuration section <c>AddSjd2ImageGenerator(configuration)</c> binds: <c>Sjd2</c>.</summary>
    public const string DefaultSectionName = "Sjd2";

    /// <summary>The model folder (holding model.json). Required.</summary>
    public string ModelPath { get; set; } = "";

    /// <summary>Execution provider; the app ships the matching ONNX Runtime native package.</summary>
    public ExecutionProvider Provider { get; set; } = ExecutionProvider.Cpu;

    /// <summary>GPU index for CUDA or DirectML.</summary>
    public int DeviceId { get; set; }

    /// <summary>Decoding method unless a request names one; default: the engine's, as for <see cref="GenerationOptions.Decoding"/> (sjd++: lossless, fewer passes than AR).</summary>
    public DecodingMethod Method { get; set; } = new GenerationOptions().Method;

    /// <summary>Seed of the first image of a request that gives none; null draws a fresh seed per request (logged, and stored in the PNG).</summary>
    public ulong? Seed { get; set; }

    /// <summary>Guidance scale; null = the model's.</summary>
    public float? CfgScale { get; set; }

    /// <summary>Sampling temperature; null = the model's.</summary>
    public float? Temperature { get; set; }

    /// <summary>Top-k (0 = off); null = the model's.</summary>
    public int? TopK { get; set; }

    /// <summary>Top-p in (0, 1]; null = the model's.</summary>
    public float? TopP { get; set; }

    /// <summary>Window of the speculative methods; null = the engine's default.</summary>
    public int? Window { get; set; }

    /// <summary>Whether the PNGs carry the generation parameters in text chunks (default true).</summary>
    public bool EmbedMetadata { get; set; } = true;
}
