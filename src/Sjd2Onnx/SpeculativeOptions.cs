using Sjd2Onnx.Decoding;
using Sjd2Onnx.Model;

namespace Sjd2Onnx;

/// <summary>Options every speculative method has: the window, the draft initialisation and stall re-seeding.</summary>
public abstract record SpeculativeOptions : MethodOptions
{
    /// <summary>Tokens fed per pass: one committed anchor plus drafts (the official SJD setting: 1 + 15).</summary>
    public int Window { get; init; } = GenerationOptions.DefaultWindow;

    /// <summary>Pick the window every pass from measured pass costs and acceptance, up to <see cref="MaxAutoWindow"/>.</summary>
    public bool AutoWindow { get; init; }

    /// <summary>The largest window <see cref="AutoWindow"/> considers.</summary>
    public int MaxAutoWindow { get; init; } = 32;

    /// <summary>How new drafts are initialised (vertical measured fastest on the demo model).</summary>
    public DraftInitialization DraftInit { get; init; } = GenerationOptions.DefaultDraftInit;

    /// <summary>
    /// After this many passes in a row that committed a single token, re-seed the drafts after the new
    /// token from it; exact. 0 turns it off; the default was measured on the default model.
    /// </summary>
    public int ReseedAfterStalls { get; init; } = 4;

    /// <summary>Test hook: a deliberately broken verifier that accepts every draft (the exactness tests must catch it).</summary>
    internal bool AcceptEveryDraft { get; init; }

    internal override IReadOnlyList<string> Keys => ["window", "init", "reseed"];

    internal override MethodOptions With(string key, string value) => key switch
    {
        "window" when SettingValue.IsAuto(value) => this with { AutoWindow = true },
        "window" => this with { Window = SettingValue.Int(key, value, "an integer or 'auto'"), AutoWindow = false },
        "init" => this with { DraftInit = SettingValue.Init(key, value) },
        "reseed" => this with { ReseedAfterStalls = SettingValue.Int(key, value) },
        _ => throw new ArgumentException($"{DecodingMethodNames.ToName(Method)} takes no setting {key}.", nameof(key)),
    };

    internal override void Validate()
    {
        if (Window < 2)
            throw SettingError.For("window", $"window must be at least 2 (one anchor and one draft), got {Window}; method ar feeds one token per pass.");
        if (MaxAutoWindow < 2)
            throw SettingError.For("window", $"window limit of auto must be at least 2, got {MaxAutoWindow}.");
        if (ReseedAfterStalls < 0)
            throw SettingError.For("reseed", $"reseed must be 0 (never) or more one-token passes, got {ReseedAfterStalls}; e.g. 4.");
        if (!Enum.IsDefined(DraftInit)) throw new Sjd2Exception($"unknown draft initialisation {DraftInit}.");
        if (DraftInit == DraftInitialization.Noise && !TakesNoiseInit)
            throw SettingError.For("init", $"init noise applies to method sjd2, not {DecodingMethodNames.ToName(Method)}; use random, horizontal or vertical.");
    }

    /// <summary>Whether new drafts may start as pure noise (<see cref="DraftInitialization.Noise"/>): only a method that denoises them.</summary>
    private protected virtual bool TakesNoiseInit => false;

    /// <summary>Checks these options against a model and resolves them into what the decoders read.</summary>
    /// <exception cref="Sjd2Exception">An impossible value, or a method the model was not trained for.</exception>
    internal SpeculativeSettings Resolve(ModelManifest manifest)
    {
        Validate(); // a window past the image is clamped by the decoders, as on the command line
        // The fields a method has no option for keep the values every method resolved them to before.
        var common = new SpeculativeSettings(AutoWindow ? MaxAutoWindow : Window, AutoWindow, DraftInit, null, SjdPlusPlusOptions.DefaultReuseThreshold,
            null, Sjd2KvMode.Approximate, 1f, AcceptEveryDraft, Sjd2Options.DefaultKvNoiseLimit, Sjd2Schedule.Window, null,
            PacOptions.DefaultTreeWidth, PacOptions.DefaultTreeDepth, false, ReseedAfterStalls);
        return Specialize(common, manifest);
    }

    /// <summary>The method's own settings on top of the common ones.</summary>
    private protected abstract SpeculativeSettings Specialize(SpeculativeSettings common, ModelManifest manifest);

    internal override IImageTokenDecoder CreateDecoder(ModelManifest manifest, WindowTuner? tuner) => CreateDecoder(Resolve(manifest), tuner);

    /// <summary>The method's decoder over resolved settings.</summary>
    private protected abstract IImageTokenDecoder CreateDecoder(SpeculativeSettings settings, WindowTuner? tuner);
}
