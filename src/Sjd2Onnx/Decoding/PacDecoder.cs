using System.Runtime.CompilerServices;
using Sjd2Onnx.Sampling;

namespace Sjd2Onnx.Decoding;

/// <summary>
/// SJD with proactive drafting and adaptive continuation made exact (<c>--method pac</c>). A pass
/// feeds a <see cref="DraftTree"/>: the anchor, then for the first <c>depth</c> slots after it a
/// full tree of up to <c>width</c> candidates per slot (the slot's own draft first, then other
/// codes drawn without replacement from the stale distribution the draft was sampled from), then
/// a chain of drafts from the tree's first-candidate path (the spine) to the end of the window. The
/// window counts the spine and the chain; the other candidates are extra nodes on top of it, as
/// published. The accepted path is found from the anchor: at each node its children are verified
/// against the node's output with recursive rejection sampling (<see cref="CandidateVerifier"/>),
/// which is exact for candidates drawn from their stated laws; the first slot where every
/// candidate fails takes a residual sample, a leaf gives a bonus token. The pass keeps the KV rows
/// of the accepted path.
/// <para>
/// Adaptive continuation, exact: after the pass every slot beyond the new token gets a new draft
/// from the coupled rule against the output of the path that continues past the rejection (the
/// rejected candidate's first-child path, then the spine): drafts verified against those stale
/// distributions stay drafts, with q = that distribution, instead of being committed.
/// </para>
/// Without tree attention in the model (or with width 1) every pass is a chain and the decoder is
/// SJD++ with coupled reuse, bit for bit. <see cref="SpeculativeSettings.StaleContinuation"/> is a
/// test hook for adaptive continuation as published (commit tokens verified against stale
/// distributions), which is not exact.
/// </summary>
internal sealed class PacDecoder(SpeculativeSettings settings, WindowTuner? tuner) : SpeculativeDecoder(settings, tuner)
{
    private CandidateVerifier _candidates = null!;
    private DraftInitializer _init = null!;
    private TreeFeeder _feeder = null!;
    private DraftTree _tree = null!;
    private PacTreeBuilder _builder = null!;
    private int[] _kept = [];   // the accepted path's nodes, in window order
    private int _keptCount;
    private int _fed0;          // first slot whose KV row is not cached (the anchor, unless stale continuation committed more)
    private int _lastKept;      // the accepted path's last node
    private int _reference;     // the node at the new token's slot whose output continues past it

    public override int MaxWindow => Settings.Window + ExtraNodes(Settings.TreeWidth, Settings.TreeDepth);

    /// <summary>Nodes a full tree of this shape adds to a chain: every candidate off the spine.</summary>
    internal static int ExtraNodes(int width, int depth)
    {
        long extra = 0, level = 1;
        for (int d = 0; d < depth && extra < MaxExtraNodes; d++)
        {
            level = Math.Min(level * Math.Max(1, width), MaxExtraNodes);
            extra += level - 1;
        }
        return (int)Math.Min(extra, MaxExtraNodes);
    }

    // Far more than any useful tree; bounds the buffers of absurd shapes (the context also caps the window at the image's slots).
    private const int MaxExtraNodes = 1024;

    // The candidate verifier carries the accept-every-draft hook; re-drafts couple exactly.
    protected override bool VerifierAcceptsEveryDraft => false;

    protected override void Start()
    {
        int k = Ctx.Codebook, maxWindow = Ctx.MaxWindow;
        _candidates = new CandidateVerifier(k, Settings.AcceptEveryDraft);
        _init = new DraftInitializer(Settings.Init ?? GenerationOptions.DefaultDraftInit, Layout, Drafts, k, Random);
        _feeder = new TreeFeeder(Ctx, maxWindow);
        bool trees = _feeder.CanFeedTrees;
        _tree = new DraftTree(maxWindow);
        _builder = new PacTreeBuilder(Layout, Drafts, Random, k, maxWindow,
            trees ? Math.Max(1, Settings.TreeWidth) : 1, trees ? Settings.TreeDepth : 0);
        _kept = new int[maxWindow];
        _fed0 = 0;
    }

    protected override int Propose(int n, int window)
    {
        window = Math.Max(window, n - _fed0);
        _init.FillThrough(Math.Min(_fed0 + window - 1, Layout.LastCodeSlot - 1));
        return _builder.Build(_tree, n, _fed0, window);
    }

    protected override void Feed(int n) => _feeder.Run(_tree);

    // From the anchor: node v's output is the distribution of slot Slot(v) + 1.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected override int Verify(int n)
    {
        int at = _builder.Root, newSlot;
        _keptCount = 0;
        for (int i = 0; i <= at; i++) _kept[_keptCount++] = i;
        bool rejected = false;
        while (true)
        {
            int slot = _tree.Slot(at) + 1, child = _tree.FirstChild(at);
            if (!Layout.IsForced(slot)) Ctx.Distribution(at, P);
            if (child < 0)
            {
                // A leaf: its output gives a bonus token (a forced one is the only possible token).
                if (!Layout.IsForced(slot)) CommitSampled(slot);
                newSlot = slot;
                break;
            }
            int accepted = Layout.IsForced(slot) ? child : AcceptCandidate(slot, child);
            if (accepted < 0)
            {
                newSlot = slot;
                rejected = true;
                break;
            }
            at = accepted;
            _kept[_keptCount++] = at;
        }
        _lastKept = at;
        // Where the outputs beyond the new token come from: the path past the rejection.
        _reference = rejected ? _tree.FirstChild(at) : -1;
        if (rejected && Settings.StaleContinuation) newSlot = ContinueStale(newSlot);
        if (_reference < 0) _reference = _builder.SpineAt(newSlot);
        return newSlot;
    }

    protected override void Keep(int n, int newSlot)
    {
        _feeder.Keep(_kept, _keptCount);
        _fed0 = _tree.Slot(_lastKept) + 1;
    }

    // Coupled update of every slot this pass predicted beyond the new token, along the path that
    // continues past it, or after a stall cascade the same slots re-seeded from the new token.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected override void Redraft(int n, int newSlot, bool reseed)
    {
        int predictedThrough = newSlot;
        for (int r = _reference, slot = newSlot + 1; r >= 0 && slot <= Layout.LastCodeSlot; slot++)
        {
            RedraftSlot(slot, r, newSlot, reseed);
            predictedThrough = slot;
            int down = _tree.FirstChild(r);
            r = down >= 0 ? down : _builder.SpineAt(slot);
        }
        if (predictedThrough > Drafts.DraftedThrough) Drafts.DraftedThrough = predictedThrough;
    }

    // The children of a node verified against its output in rank order; commits the accepted
    // candidate's token or, when every one fails, the final residual's sample. −1 when none passed.
    private int AcceptCandidate(int slot, int child)
    {
        _candidates.Begin(P);
        var q = Drafts.Q(slot); // a one-hot draft (empty q) has no alternatives
        for (int c = child; c >= 0; c = _tree.NextSibling(c))
        {
            bool ok = q.IsEmpty ? _candidates.TryAccept(_tree.Token(c), q, Random) : _candidates.TryAcceptWithoutReplacement(_tree.Token(c), q, Random);
            if (!ok) continue;
            Drafts.Commit(slot, _tree.Token(c));
            return c;
        }
        Drafts.Commit(slot, _candidates.Finish(Random));
        return -1;
    }

    // Adaptive continuation as published: go on committing drafts verified against distributions
    // computed with the rejected candidate in the context. Not exact.
    private int ContinueStale(int newSlot)
    {
        while (_reference >= 0)
        {
            int slot = _tree.Slot(_reference) + 1, child = _tree.FirstChild(_reference);
            if (child < 0 || Layout.IsForced(slot)) break;
            Ctx.Distribution(_reference, P);
            _candidates.Begin(P);
            bool ok = _candidates.TryAccept(_tree.Token(child), Drafts.Q(slot), Random);
            Drafts.Commit(slot, ok ? _tree.Token(child) : _candidates.Finish(Random));
            newSlot = slot;
            _reference = child;
            if (!ok) break;
        }
        return newSlot;
    }
}
