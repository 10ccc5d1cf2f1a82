using System.Diagnostics;
using System.Runtime.CompilerServices;
using Sjd2Onnx.Sampling;

namespace Sjd2Onnx.Decoding;

/// <summary>
/// The pass loop every speculative decoder shares: plan the window, propose drafts, feed, verify,
/// keep the accepted KV rows, re-draft the slots beyond the new token, report. A method supplies
/// its own steps; the instance holds one image's state, so it decodes one image at a time.
/// </summary>
internal abstract class SpeculativeDecoder(SpeculativeSettings settings, WindowTuner? tuner) : IImageTokenDecoder
{
    private int[] _tokens = [];
    private SpeculativeVerifier _verifier = null!;
    private StallReseeder _reseeder = null!;

    public abstract int MaxWindow { get; }

    protected SpeculativeSettings Settings => settings;
    protected DecodingContext Ctx { get; private set; } = null!;
    protected ImageLayout Layout { get; private set; } = null!;
    protected DraftState Drafts { get; private set; } = null!;
    protected SeededRandom Random { get; private set; } = null!;

    /// <summary>The distribution read last with <see cref="DecodingContext.Distribution"/>.</summary>
    protected float[] P { get; private set; } = [];

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int[] Decode(DecodingContext ctx)
    {
        Begin(ctx);
        int window = Math.Min(settings.Window, ctx.MaxWindow), last = Layout.LastCodeSlot;
        for (int n = 1; n <= last;) // n slots are committed; slot n − 1 is the anchor
        {
            long start = Stopwatch.GetTimestamp();
            int covered = Propose(n, PlanWindow(window));
            Feed(n);
            int newSlot = Verify(n);
            Keep(n, newSlot);
            int committed = newSlot - n + 1;
            bool reseed = CanReseed && _reseeder.AfterPass(committed, covered);
            Redraft(n, newSlot, reseed);
            ctx.ReportCommitted(committed, newSlot + 1, Drafts.Committed, Drafts.Current);
            tuner?.Record(covered, Stopwatch.GetElapsedTime(start).TotalSeconds, committed);
            n = newSlot + 1;
        }
        return Drafts.Committed;
    }

    // The window of this pass: measured by the tuner with an automatic window, else the fixed one.
    private int PlanWindow(int window) => settings.AutoWindow && tuner is not null ? tuner.Choose(window) : window;

    /// <summary>Slots a draft ring must hold: the window and its bonus slot.</summary>
    protected virtual int DraftRing(DecodingContext ctx) => ctx.MaxWindow + 1;

    /// <summary>Whether the verifier of drafts and of coupled re-drafts carries the accept-every-draft test hook.</summary>
    protected virtual bool VerifierAcceptsEveryDraft => settings.AcceptEveryDraft;

    /// <summary>Whether stall cascades are counted and broken by re-seeding the drafts.</summary>
    protected virtual bool CanReseed => true;

    /// <summary>Per-image setup, once slot 0 is committed.</summary>
    protected virtual void Start() { }

    /// <summary>Plans a pass from anchor n − 1 within <paramref name="window"/>; returns the slots it covers (what the tuner learns from).</summary>
    protected abstract int Propose(int n, int window);

    /// <summary>Runs the planned pass.</summary>
    protected abstract void Feed(int n);

    /// <summary>Commits slots n .. the returned new slot from the pass's outputs.</summary>
    protected abstract int Verify(int n);

    /// <summary>Keeps the KV rows of the accepted inputs: by default the anchor and the accepted drafts.</summary>
    protected virtual void Keep(int n, int newSlot) => Ctx.Commit(newSlot - n + 1);

    /// <summary>New drafts for the slots the pass predicted beyond <paramref name="newSlot"/> (see <see cref="RedraftSlot"/>).</summary>
    protected abstract void Redraft(int n, int newSlot, bool reseed);

    /// <summary>Commits a sample of <see cref="P"/> to a slot.</summary>
    protected void CommitSampled(int slot) => Drafts.Commit(slot, Categorical.Sample(P, Random));

    /// <summary>Verifies a slot's draft against <see cref="P"/> and commits it or the residual's sample; true when accepted.</summary>
    protected bool AcceptOrResample(int slot)
    {
        int draft = Drafts.Token(slot);
        if (_verifier.Accept(P, draft, Drafts.Q(slot), Random))
        {
            Drafts.Commit(slot, draft);
            return true;
        }
        Drafts.Commit(slot, _verifier.Resample(P, draft, Drafts.Q(slot), Random));
        return false;
    }

    /// <summary>Feeds slots first .. first+count−1 as one chain of their current tokens.</summary>
    protected void FeedChain(int first, int count)
    {
        for (int j = 0; j < count; j++) _tokens[j] = Drafts.Token(first + j);
        Ctx.EmbedSlots(first, _tokens, count);
        Ctx.RunWindow(count);
    }

    /// <summary>
    /// Verifies a chain of <paramref name="count"/> inputs from anchor n − 1 (output j is slot n+j's
    /// distribution): drafts in order up to the first rejection, else a bonus token. Returns the new slot.
    /// </summary>
    protected int VerifyChain(int n, int count)
    {
        for (int j = 0; j < count - 1; j++)
        {
            int slot = n + j;
            if (Layout.IsForced(slot)) continue; // the forced token is the only possible one
            Ctx.Distribution(j, P);
            if (!AcceptOrResample(slot)) return slot;
        }
        int bonus = n + count - 1;
        if (!Layout.IsForced(bonus))
        {
            Ctx.Distribution(count - 1, P);
            CommitSampled(bonus);
        }
        return bonus;
    }

    /// <summary>
    /// A slot's next draft from pass output <paramref name="output"/>: the reuse rule against the
    /// old draft (coupled, threshold) or a fresh sample, or after a stall cascade the re-seeded token.
    /// </summary>
    protected void RedraftSlot(int slot, int output, int newSlot, bool reseed)
    {
        if (Layout.IsForced(slot)) return;
        if (reseed)
        {
            Drafts.SetOneHot(slot, _reseeder.Token(Drafts, newSlot, slot));
            return;
        }
        Ctx.Distribution(output, P);
        bool hasDraft = Drafts.HasDraft(slot);
        if (settings.Reuse == DraftReuse.Coupled && hasDraft)
        {
            // SJD++'s coupled rule: the old draft survives as often as P allows.
            Drafts.SetSampled(slot, _verifier.Couple(P, Drafts.Token(slot), Drafts.Q(slot), Random), P);
        }
        else if (settings.Reuse == DraftReuse.Threshold && hasDraft)
        {
            bool oneHot = Drafts.IsOneHot(slot);
            int kept = SpeculativeVerifier.Reuse(P, Drafts.Token(slot), ref oneHot, Drafts.QBuffer(slot), settings.ReuseThreshold, Random);
            Drafts.SetToken(slot, kept, oneHot);
        }
        else
        {
            Drafts.SetSampled(slot, Categorical.Sample(P, Random), P);
        }
    }

    private void Begin(DecodingContext ctx)
    {
        Ctx = ctx;
        Layout = ctx.Layout;
        Random = ctx.Random;
        P = new float[ctx.Codebook];
        _tokens = new int[ctx.MaxWindow];
        Drafts = new DraftState(Layout, ctx.Codebook, DraftRing(ctx));
        _verifier = new SpeculativeVerifier(ctx.Codebook, VerifierAcceptsEveryDraft);
        _reseeder = new StallReseeder(settings.ReseedAfterStalls, Layout, ctx.Statistics);
        // The prefill's last output is slot 0's distribution: that pass commits slot 0.
        ctx.Distribution(ctx.PrefixLength - 1, P);
        CommitSampled(0);
        Drafts.DraftedThrough = 0; // slot 0 is committed: no draft may overwrite it
        Start();
        ctx.ReportCommitted(1, 1, Drafts.Committed, Drafts.Current);
    }
}
