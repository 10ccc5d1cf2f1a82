namespace Sjd2Onnx.Cli.Options;

/// <summary>
/// The decoding options as given (null where not given): from the command line, or from a bench
/// method spec such as <c>sjd2:kv=exact</c> layered over it.
/// </summary>
internal sealed record DecodingValues(
    WindowChoice? Window, string? Init, string? Reuse, float? ReuseThreshold, int? DenoiseSteps, string? Kv, float? AcceptNoise,
    string? Schedule = null, string? Tree = null, int? Reseed = null)
{
    /// <summary>These values with every value given in <paramref name="over"/> replacing this one's.</summary>
    public DecodingValues With(DecodingValues over) => new(
        over.Window ?? Window, over.Init ?? Init, over.Reuse ?? Reuse, over.ReuseThreshold ?? ReuseThreshold,
        over.DenoiseSteps ?? DenoiseSteps, over.Kv ?? Kv, over.AcceptNoise ?? AcceptNoise, over.Schedule ?? Schedule, over.Tree ?? Tree,
        over.Reseed ?? Reseed);
}
