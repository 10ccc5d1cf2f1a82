namespace Sjd2Onnx.Decoding;

/// <summary>
/// Speculative Jacobi decoding (SJD) and, with a reuse threshold, SJD++-style draft reuse. A pass
/// feeds the window [anchor, d_n .. d_{n+s−2}]: the anchor is the last committed token (its KV
/// not yet cached) and d are drafts of the next slots. Output j of the pass is the distribution of
/// slot n+j. Drafts are verified in order with the speculative rule; the first rejection draws
/// from the residual, and if every draft passes, the last output gives a bonus token. The pass
/// commits the accepted drafts plus that one token (so never fewer tokens than AR) and keeps the
/// KV rows of the anchor and the accepted drafts. Every slot after the new token gets a fresh
/// sample of this pass's output as its next draft (the Jacobi update), or with reuse keeps its
/// old draft where a lossless rule allows (<see cref="DraftReuse"/>). Forced end-of-line slots are
/// fed as their token and always "accepted". Both variants are lossless: the committed codes are
/// distributed exactly as AR's.
/// </summary>
internal sealed class SjdDecoder(SpeculativeSettings settings, WindowTuner? tuner) : SpeculativeDecoder(settings, tuner)
{
    private DraftInitializer _init = null!;
    private int _fed; // inputs of this pass: the anchor and the drafts after it

    public override int MaxWindow => Settings.Window;

    protected override void Start() =>
        _init = new DraftInitializer(Settings.Init ?? GenerationOptions.DefaultDraftInit, Layout, Drafts, Ctx.Codebook, Random);

    protected override int Propose(int n, int window)
    {
        // Inputs are slots n−1 .. n+s−2; the last code slot never needs to be fed.
        _fed = Math.Min(window, Layout.LastCodeSlot - n + 1);
        _init.FillThrough(n + _fed - 2);
        return _fed;
    }

    protected override void Feed(int n) => FeedChain(n - 1, _fed);

    protected override int Verify(int n) => VerifyChain(n, _fed);

    // Jacobi update (or reuse) of every slot this pass predicted beyond the new token.
    protected override void Redraft(int n, int newSlot, bool reseed)
    {
        int through = n + _fed - 1;
        for (int slot = newSlot + 1; slot <= through; slot++) RedraftSlot(slot, slot - n, newSlot, reseed);
        if (through > Drafts.DraftedThrough) Drafts.DraftedThrough = through;
    }
}
