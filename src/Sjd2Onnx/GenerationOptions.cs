using Sjd2Onnx.Decoding;
using Sjd2Onnx.Model;
using Sjd2Onnx.Sampling;

namespace Sjd2Onnx;

/// <summary>
/// Options of one generation: the seed, the sampling values (unset ones are the model's) and the
/// decoding method with its own options. <see cref="SettingsBinder"/> reads them from <c>key=value</c> settings.
/// </summary>
public sealed record GenerationOptions
{
    /// <summary>
    /// The method of every entry point that is not told one (CLI generate and eval, the server, the
    /// Microsoft.Extensions.AI adapter): lossless, and the fewest passes of the lossless chain methods
    /// in the committed benchmark (docs/bench-default.json); docs/decisions/0001-default-method.md.
    /// </summary>
    internal const DecodingMethod DefaultMethod = DecodingMethod.SjdPlusPlus;

    /// <summary>Default window of the speculative methods (the official SJD setting: 1 anchor + 15 drafts).</summary>
    internal const int DefaultWindow = 16;

    /// <summary>Default draft initialisation (measured fastest on the demo model).</summary>
    internal const DraftInitialization DefaultDraftInit = DraftInitialization.Vertical;

    /// <summary>Seed of the random stream; the same seed gives the same image.</summary>
    public ulong Seed { get; init; }

    /// <summary>Sampling values; null ones fall back to the model's defaults.</summary>
    public SamplingOverrides Sampling { get; init; } = new();

    /// <summary>The decoding method and its options; <see cref="SjdPlusPlusOptions"/> unless set (every front end uses this default).</summary>
    public MethodOptions Decoding { get; init; } = MethodOptions.For(DefaultMethod);

    /// <summary>The decoding method (<see cref="MethodOptions.Method"/> of <see cref="Decoding"/>).</summary>
    public DecodingMethod Method => Decoding.Method;

    /// <summary>The sampling settings these options give on top of a model's defaults.</summary>
    public SamplingSettings ResolveSampling(SamplingSettings defaults) => Sampling.Resolve(defaults);

    /// <summary>Checks the decoding options against a model and resolves their defaults.</summary>
    /// <exception cref="Sjd2Exception">An impossible value, or SJD2 on a model not trained for it.</exception>
    internal SpeculativeSettings ResolveDecoding(ModelManifest manifest) => Decoding is SpeculativeOptions speculative
        ? speculative.Resolve(manifest)
        : throw new InvalidOperationException($"method {DecodingMethodNames.ToName(Method)} has no speculative settings.");

    /// <summary>Checks every value against a model before any work (front ends: the key of a refusal names the setting).</summary>
    internal void Check(ModelManifest manifest)
    {
        ResolveSampling(manifest.Sampling);
        Decoding.Validate();
        if (Decoding is SpeculativeOptions speculative) speculative.Resolve(manifest);
    }
}
