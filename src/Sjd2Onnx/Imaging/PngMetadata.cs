using System.Globalization;
using Sjd2Onnx.Sampling;

namespace Sjd2Onnx.Imaging;

/// <summary>
/// The generation parameters stored in a PNG's text chunks: one chunk per field (keywords
/// <c>prompt</c>, <c>seed</c>, <c>method</c>, <c>cfg_scale</c>, <c>temperature</c>, <c>top_k</c>,
/// <c>top_p</c>, <c>model</c>), the standard <c>Description</c> and <c>Software</c> keywords, and a
/// one-block summary under <c>parameters</c>, the keyword other image generators and their viewers
/// use. Text that is not Latin-1 goes into iTXt (UTF-8) chunks.
/// </summary>
/// <param name="Prompt">The prompt.</param>
/// <param name="Seed">The seed of this image.</param>
/// <param name="Method">The decoding method.</param>
/// <param name="Sampling">The sampling settings in effect (the model's defaults resolved).</param>
/// <param name="Model">The model's name (model.json <c>name</c>).</param>
public sealed record PngMetadata(string Prompt, ulong Seed, DecodingMethod Method, SamplingSettings Sampling, string Model)
{
    /// <summary>The metadata of a generated image.</summary>
    public static PngMetadata From(GenerationResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        return new PngMetadata(result.Prompt, result.Options.Seed, result.Options.Method, result.Sampling, result.ModelName);
    }

    /// <summary>Reads the metadata sjd2 wrote into a PNG; null when the PNG has none (or the bytes are not a PNG).</summary>
    public static PngMetadata? Read(ReadOnlySpan<byte> png)
    {
        var entries = PngTextChunks.Read(png);
        if (entries is null) return null;
        var text = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (k, v) in entries) text.TryAdd(k, v);
        var inv = CultureInfo.InvariantCulture;
        if (!text.TryGetValue("prompt", out var prompt) || !text.TryGetValue("model", out var model)
            || !text.TryGetValue("seed", out var seedText) || !ulong.TryParse(seedText, NumberStyles.None, inv, out ulong seed)
            || !text.TryGetValue("method", out var methodText) || !DecodingMethodNames.TryParse(methodText, out var method)
            || !TryFloat(text, "cfg_scale", out float cfg) || !TryFloat(text, "temperature", out float temperature)
            || !text.TryGetValue("top_k", out var topKText) || !int.TryParse(topKText, NumberStyles.None, inv, out int topK)
            || !TryFloat(text, "top_p", out float topP))
            return null;
        return new PngMetadata(prompt, seed, method, new SamplingSettings(cfg, temperature, topK, topP), model);
    }

    /// <summary>Reads the metadata from a PNG stream (read to its end).</summary>
    public static PngMetadata? Read(Stream png)
    {
        ArgumentNullException.ThrowIfNull(png);
        using var buffer = new MemoryStream();
        png.CopyTo(buffer);
        return Read(buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
    }

    /// <summary>The text chunks written for this metadata, keyword and text, in file order.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> ToTextEntries()
    {
        var inv = CultureInfo.InvariantCulture;
        string method = DecodingMethodNames.ToName(Method); // the command line's word, so a PNG says what to type to make it again
        string cfg = Sampling.CfgScale.ToString("R", inv), temperature = Sampling.Temperature.ToString("R", inv);
        string topK = Sampling.TopK.ToString(inv), topP = Sampling.TopP.ToString("R", inv), seed = Seed.ToString(inv);
        return
        [
            new("parameters", $"{Prompt}\nMethod: {method}, Seed: {seed}, CFG scale: {cfg}, Temperature: {temperature}, Top-k: {topK}, Top-p: {topP}, Model: {Model}"),
            new("Description", Prompt),
            new("Software", $"Sjd2Onnx {typeof(PngMetadata).Assembly.GetName().Version?.ToString(3)}"),
            new("prompt", Prompt),
            new("seed", seed),
            new("method", method),
            new("cfg_scale", cfg),
            new("temperature", temperature),
            new("top_k", topK),
            new("top_p", topP),
            new("model", Model),
        ];
    }

    private static bool TryFloat(Dictionary<string, string> text, string key, out float value)
    {
        value = 0;
        return text.TryGetValue(key, out var s) && float.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out value);
    }
}
