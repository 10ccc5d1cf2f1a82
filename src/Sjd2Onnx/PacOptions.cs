using Sjd2Onnx.Decoding;
using Sjd2Onnx.Model;

namespace Sjd2Onnx;

/// <summary>SJD++ with proactive draft trees (lossless; models with tree attention, others decode chains).</summary>
public sealed record PacOptions : SpeculativeOptions
{
    internal const int DefaultTreeWidth = 3;
    internal const int DefaultTreeDepth = 1;

    // A tree never needs more; the bound keeps a request from allocating without limit.
    private const int MaxTreeSize = 64;

    /// <inheritdoc/>
    public override DecodingMethod Method => DecodingMethod.Pac;

    internal override string Name => "pac";

    private protected override IImageTokenDecoder CreateDecoder(SpeculativeSettings settings, WindowTuner? tuner) => new PacDecoder(settings, tuner);

    /// <summary>Candidates per slot in the draft tree, 1 to 64 (1 = chain drafts).</summary>
    public int TreeWidth { get; init; } = DefaultTreeWidth;

    /// <summary>Slots after the anchor that get a level of the draft tree, 0 to 64.</summary>
    public int TreeDepth { get; init; } = DefaultTreeDepth;

    /// <summary>
    /// Test hook: PAC's adaptive continuation as published (commits tokens verified against
    /// distributions computed with a rejected draft in the context). Not exact.
    /// </summary>
    internal bool StaleContinuation { get; init; }

    /// <summary>Test hook: the draft trees alone, with SJD's plain resampling instead of coupled reuse past a rejection.</summary>
    internal bool WithoutReuse { get; init; }

    internal override IReadOnlyList<string> Keys => [.. base.Keys, "tree"];

    internal override MethodOptions With(string key, string value)
    {
        if (key != "tree") return base.With(key, value);
        var (width, depth) = SettingValue.Tree(key, value);
        return this with { TreeWidth = width, TreeDepth = depth };
    }

    internal override void Validate()
    {
        base.Validate();
        if (TreeWidth < 1 || TreeWidth > MaxTreeSize)
            throw SettingError.For("tree", $"tree width must be at least 1 and at most {MaxTreeSize} (1 = chain drafts), got {TreeWidth}.");
        if (TreeDepth < 0 || TreeDepth > MaxTreeSize)
            throw SettingError.For("tree", $"tree depth must be at least 0 and at most {MaxTreeSize} (0 = chain drafts), got {TreeDepth}.");
    }

    private protected override SpeculativeSettings Specialize(SpeculativeSettings common, ModelManifest manifest) => common with
    {
        Reuse = WithoutReuse ? null : DraftReuse.Coupled,
        TreeWidth = TreeWidth,
        TreeDepth = TreeDepth,
        StaleContinuation = StaleContinuation,
    };
}
