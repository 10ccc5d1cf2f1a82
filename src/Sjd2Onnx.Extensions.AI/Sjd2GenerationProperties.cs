namespace Sjd2Onnx.Extensions.AI;

/// <summary>
/// Keys of <c>ImageGenerationOptions.AdditionalProperties</c> that <see cref="Sjd2ImageGenerator"/>
/// reads (they override <see cref="Sjd2ImageGeneratorOptions"/> for one request), and that it sets
/// on each returned image's <c>DataContent.AdditionalProperties</c> (<see cref="Seed"/>, <see cref="Passes"/>).
/// Every other key of <see cref="SettingsBinder.Keys"/> (<c>kv</c>, <c>tree</c>, …) is read as the engine's setting.
/// </summary>
public static class Sjd2GenerationProperties
{
    /// <summary>Seed of the first image (an unsigned 64-bit integer); image i of the request uses seed + i.</summary>
    public const string Seed = "seed";

    /// <summary>Decoding method: a <see cref="DecodingMethod"/> or one of "ar", "sjd", "sjd++", "pac", "sjd2".</summary>
    public const string Method = "method";

    /// <summary>Guidance scale.</summary>
    public const string CfgScale = "cfg_scale";

    /// <summary>Sampling temperature.</summary>
    public const string Temperature = "temperature";

    /// <summary>Top-k (0 = off).</summary>
    public const string TopK = "top_k";

    /// <summary>Top-p in (0, 1].</summary>
    public const string TopP = "top_p";

    /// <summary>Window of the speculative methods.</summary>
    public const string Window = "window";

    /// <summary>
    /// Speculative methods: re-seed the drafts after this many one-token passes in a row (0 = never;
    /// <see cref="SpeculativeOptions.ReseedAfterStalls"/>).
    /// </summary>
    public const string ReseedAfterStalls = "reseed";

    /// <summary>On results: the transformer passes the image took.</summary>
    public const string Passes = "passes";
}
