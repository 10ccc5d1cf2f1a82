using Sjd2Onnx.Model;

namespace Sjd2Onnx.Decoding;

/// <summary>Resolved settings of the speculative decoders (see <see cref="GenerationOptions"/>).</summary>
/// <param name="Window">Tokens fed per pass (anchor plus drafts), or the largest one with <paramref name="AutoWindow"/>.</param>
/// <param name="AutoWindow">Pick the window every pass from measured costs and acceptance.</param>
/// <param name="Init">Draft initialisation: always set for SJD and SJD++; for SJD2 null = pure noise, else the prior that seeds new slots.</param>
/// <param name="Reuse">SJD++ and SJD2 draft-reuse rule; null for plain SJD.</param>
/// <param name="ReuseThreshold">τ of <see cref="DraftReuse.Threshold"/>.</param>
/// <param name="Noise">SJD2 noise process (steps already overridden); null for the other methods.</param>
/// <param name="KvMode">SJD2 KV treatment of tokens accepted while noisy.</param>
/// <param name="KvNoiseLimit">SJD2 with <see cref="Sjd2KvMode.Limit"/>: the highest noise level whose KV rows are kept.</param>
/// <param name="Schedule">SJD2 noise schedule.</param>
/// <param name="WindowLevels">SJD2 window schedule: levels of the ramp; null = one per noisy position.</param>
/// <param name="AcceptNoise">SJD2: commit only through outputs whose inputs were fed at noise levels up to this.</param>
/// <param name="AcceptEveryDraft">Test hook: a broken verifier.</param>
/// <param name="TreeWidth">PAC: candidates per slot in the draft tree (1 = chains).</param>
/// <param name="TreeDepth">PAC: slots after the anchor that get a level of the tree.</param>
/// <param name="ReseedAfterStalls">Re-seed the drafts after this many one-token passes in a row (<see cref="StallReseeder"/>); 0 = never.</param>
/// <param name="StaleContinuation">PAC test hook: adaptive continuation as published (commits tokens verified against stale distributions; not exact).</param>
internal sealed record SpeculativeSettings(int Window, bool AutoWindow, DraftInitialization? Init, DraftReuse? Reuse, float ReuseThreshold,
    Sjd2Spec? Noise, Sjd2KvMode KvMode, float AcceptNoise, bool AcceptEveryDraft,
    float KvNoiseLimit = 0f, Sjd2Schedule Schedule = Sjd2Schedule.PerPass, int? WindowLevels = null,
    int TreeWidth = 1, int TreeDepth = 0, bool StaleContinuation = false, int ReseedAfterStalls = 0);
