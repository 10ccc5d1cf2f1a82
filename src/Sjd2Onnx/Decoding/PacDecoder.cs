using System.Diagnostics;
using System.Numerics.Tensors;
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
internal sealed class PacDecoder(SpeculativeSettings settings, WindowTuner? tuner) : IImageTokenDecoder
{
    public int MaxWindow => settings.Window + ExtraNodes(settings.TreeWidth, settings.TreeDepth);

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

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int[] Decode(DecodingContext ctx)
    {
        var layout = ctx.Layout;
        var rng = ctx.Random;
        int k = ctx.Codebook, maxWindow = ctx.MaxWindow, chainWindow = Math.Min(settings.Window, maxWindow), last = layout.LastCodeSlot;
        var drafts = new DraftState(layout, k, maxWindow + 1);
        var coupling = new SpeculativeVerifier(k);
        var candidates = new CandidateVerifier(k, settings.AcceptEveryDraft);
        var init = new DraftInitializer(settings.Init ?? GenerationOptions.DefaultDraftInit, layout, drafts, k, rng);
        var feeder = new TreeFeeder(ctx, maxWindow);
        bool trees = feeder.CanFeedTrees;
        int width = trees ? Math.Max(1, settings.TreeWidth) : 1, depth = trees ? settings.TreeDepth : 0;
        var tree = new DraftTree(maxWindow);
        bool coupled = settings.Reuse == DraftReuse.Coupled; // otherwise plain Jacobi resampling (a test of trees alone)
        var p = new float[k];
        var alternatives = new int[Math.Max(1, width)];
        var draw = new float[k];
        var frontier = new int[maxWindow];
        var nextFrontier = new int[maxWindow];
        var spineAt = new int[maxWindow + 1];   // spine node by slot − fed0, −1 where none
        var kept = new int[maxWindow];
        var reseeder = new StallReseeder(settings.ReseedAfterStalls, layout, ctx.Statistics);

        ctx.Distribution(ctx.PrefixLength - 1, p);
        drafts.Commit(0, Categorical.Sample(p, rng));
        drafts.DraftedThrough = 0;
        ctx.ReportCommitted(1, 1, drafts.Committed, drafts.Current);

        int n = 1;      // committed slots
        int fed0 = 0;   // first slot whose KV row is not cached (the anchor, n − 1, unless stale continuation committed more)
        while (n <= last)
        {
            long start = Stopwatch.GetTimestamp();
            int window = settings.AutoWindow && tuner is not null ? tuner.Choose(chainWindow) : chainWindow;
            window = Math.Max(window, n - fed0);
            init.FillThrough(Math.Min(fed0 + window - 1, last - 1));

            // The committed tokens not cached yet, as a chain ending at the anchor.
            tree.Clear();
            int node = -1;
            for (int slot = fed0; slot < n; slot++) node = tree.Add(slot, drafts.Token(slot), node, 0);
            int root = node, spine = root, slotNext = n;
            Array.Fill(spineAt, -1);
            spineAt[n - 1 - fed0] = root;
            // The tree: every node of a level gets the next slot's candidates as children, the
            // spine's first (frontier[0] is always the spine), as many as the buffers hold.
            int frontierCount = 1;
            frontier[0] = root;
            for (int level = 0; level < depth && slotNext <= last - 1 && tree.Count < maxWindow; level++, slotNext++)
            {
                int c = Candidates(slotNext, width, drafts, layout, alternatives, draw, rng);
                int next = 0, nextSpine = -1;
                for (int f = 0; f < frontierCount; f++)
                {
                    for (int r = 0; r < c && tree.Count < maxWindow; r++)
                    {
                        int v = tree.Add(slotNext, alternatives[r], frontier[f], r);
                        nextFrontier[next++] = v;
                        if (frontier[f] == spine && r == 0) nextSpine = v;
                    }
                }
                (frontier, nextFrontier) = (nextFrontier, frontier);
                frontierCount = next;
                spine = nextSpine;
                spineAt[slotNext - fed0] = spine;
            }
            // The chain from the spine to the window's end; the last code slot is never fed.
            for (; slotNext - fed0 < window && tree.Count < maxWindow && slotNext <= last - 1; slotNext++)
            {
                spine = tree.Add(slotNext, drafts.Token(slotNext), spine, 0);
                spineAt[slotNext - fed0] = spine;
            }
            int s = tree.Count, covered = slotNext - fed0; // nodes fed; slots they cover (the window the tuner chose)
            feeder.Run(tree);

            // Verification from the anchor: node v's output is the distribution of slot Slot(v) + 1.
            int at = root, newSlot;
            int keptCount = 0;
            for (int i = 0; i <= root; i++) kept[keptCount++] = i;
            bool rejected = false;
            while (true)
            {
                int slot = tree.Slot(at) + 1, child = tree.FirstChild(at);
                if (layout.IsForced(slot))
                {
                    // The forced token is the only possible one: always accepted, never sampled.
                    if (child < 0) { newSlot = slot; break; }
                    at = child;
                    kept[keptCount++] = at;
                    continue;
                }
                ctx.Distribution(at, p);
                if (child < 0)
                {
                    // A leaf: its output gives a bonus token.
                    drafts.Commit(slot, Categorical.Sample(p, rng));
                    newSlot = slot;
                    break;
                }
                candidates.Begin(p);
                int accepted = -1;
                var q = drafts.Q(slot); // a one-hot draft (empty q) has no alternatives
                for (int c = child; c >= 0 && accepted < 0; c = tree.NextSibling(c))
                    if (q.IsEmpty ? candidates.TryAccept(tree.Token(c), q, rng) : candidates.TryAcceptWithoutReplacement(tree.Token(c), q, rng)) accepted = c;
                if (accepted < 0)
                {
                    drafts.Commit(slot, candidates.Finish(rng));
                    newSlot = slot;
                    rejected = true;
                    break;
                }
                drafts.Commit(slot, tree.Token(accepted));
                at = accepted;
                kept[keptCount++] = at;
            }
            int lastKept = at;

            // Where the outputs beyond the new token come from: the path past the rejection.
            int reference = rejected ? tree.FirstChild(at) : -1;
            if (rejected && settings.StaleContinuation)
            {
                // Adaptive continuation as published: go on committing drafts verified against
                // distributions computed with the rejected candidate in the context. Not exact.
                while (reference >= 0)
                {
                    int slot = tree.Slot(reference) + 1, child = tree.FirstChild(reference);
                    if (child < 0 || layout.IsForced(slot)) break;
                    ctx.Distribution(reference, p);
                    candidates.Begin(p);
                    bool ok = candidates.TryAccept(tree.Token(child), drafts.Q(slot), rng);
                    drafts.Commit(slot, ok ? tree.Token(child) : candidates.Finish(rng));
                    newSlot = slot;
                    reference = child;
                    if (!ok) break;
                }
            }
            // `reference` is the node at the new token's slot whose output continues past it.
            if (reference < 0) reference = SpineAt(spineAt, newSlot - fed0);
            feeder.Keep(kept, keptCount);

            // Coupled update of every slot this pass predicted beyond the new token, or after a
            // stall cascade the same slots re-seeded from the new token.
            int predictedThrough = newSlot;
            bool reseed = reseeder.AfterPass(newSlot - n + 1, s);
            for (int r = reference, slot = newSlot + 1; r >= 0 && slot <= last; slot++)
            {
                if (reseed)
                {
                    if (!layout.IsForced(slot)) drafts.SetOneHot(slot, reseeder.Token(drafts, newSlot, slot));
                    predictedThrough = slot;
                    int below = tree.FirstChild(r);
                    r = below >= 0 ? below : SpineAt(spineAt, slot - fed0);
                    continue;
                }
                if (!layout.IsForced(slot))
                {
                    ctx.Distribution(r, p);
                    if (coupled && drafts.HasDraft(slot))
                    {
                        drafts.SetSampled(slot, coupling.Couple(p, drafts.Token(slot), drafts.Q(slot), rng), p);
                    }
                    else
                    {
                        drafts.SetSampled(slot, Categorical.Sample(p, rng), p);
                    }
                }
                predictedThrough = slot;
                int down = tree.FirstChild(r);
                r = down >= 0 ? down : SpineAt(spineAt, slot - fed0);
            }
            if (predictedThrough > drafts.DraftedThrough) drafts.DraftedThrough = predictedThrough;

            ctx.ReportCommitted(newSlot - n + 1, newSlot + 1, drafts.Committed, drafts.Current);
            tuner?.Record(covered, Stopwatch.GetElapsedTime(start).TotalSeconds, newSlot - n + 1);
            n = newSlot + 1;
            fed0 = tree.Slot(lastKept) + 1;
        }
        return drafts.Committed;
    }

    // The spine node at a slot offset, or −1 (beyond the window or no node there).
    private static int SpineAt(int[] spineAt, int offset) => offset >= 0 && offset < spineAt.Length ? spineAt[offset] : -1;

    /// <summary>
    /// The candidates of a slot into <paramref name="into"/>: its own draft first, then up to
    /// width − 1 other codes drawn without replacement from the draft's q (the stale distribution
    /// it was sampled from), while the mass of q not yet drawn is at least <see cref="AlternativeFloor"/>.
    /// Drawn, not ranked: a stale q is the best guess at the true distribution, and at high
    /// entropy, where alternatives matter, no code stands out to rank (docs/decoding.md). A one-hot
    /// draft (a spatial prior) has no distribution to draw from and stays alone; so does a
    /// confident q.
    /// </summary>
    private static int Candidates(int slot, int width, DraftState drafts, ImageLayout layout, int[] into, float[] draw, SeededRandom rng)
    {
        into[0] = drafts.Token(slot);
        if (width <= 1 || layout.IsForced(slot) || drafts.IsOneHot(slot)) return 1;
        var q = drafts.QBuffer(slot);
        var rest = draw.AsSpan(0, q.Length);
        q.CopyTo(rest);
        rest[into[0]] = 0;
        int count = 1;
        while (count < width && TensorPrimitives.Sum(rest) >= AlternativeFloor)
        {
            int x = Categorical.Sample(rest, rng);
            into[count++] = x;
            rest[x] = 0;
        }
        return count;
    }

    // Stop drawing alternatives when the codes left hold less than this share of the stale distribution.
    private const float AlternativeFloor = 0.05f;
}
