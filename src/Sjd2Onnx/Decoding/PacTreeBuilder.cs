using System.Numerics.Tensors;
using Sjd2Onnx.Sampling;

namespace Sjd2Onnx.Decoding;

/// <summary>
/// Builds the <see cref="DraftTree"/> one <see cref="PacDecoder"/> pass feeds: the committed tokens
/// not cached yet as a chain ending at the anchor, a full tree of candidates for the next
/// <c>depth</c> slots, then the chain of drafts from the spine (the first-candidate path) to the
/// window's end. Remembers the spine node of each slot until the next build.
/// </summary>
internal sealed class PacTreeBuilder(ImageLayout layout, DraftState drafts, SeededRandom rng, int codebook, int maxWindow, int width, int depth)
{
    private int[] _frontier = new int[maxWindow], _nextFrontier = new int[maxWindow];
    private readonly int[] _spineAt = new int[maxWindow + 1]; // spine node by slot − first fed slot, −1 where none
    private readonly int[] _alternatives = new int[Math.Max(1, width)];
    private readonly float[] _draw = new float[codebook];
    private int _fed0;

    /// <summary>The anchor's node: the last committed token of the tree.</summary>
    public int Root { get; private set; }

    /// <summary>
    /// Fills <paramref name="tree"/> for a pass from anchor n − 1 whose first uncached slot is
    /// <paramref name="fed0"/>; returns the slots the spine covers (at most <paramref name="window"/>).
    /// </summary>
    public int Build(DraftTree tree, int n, int fed0, int window)
    {
        int last = layout.LastCodeSlot;
        _fed0 = fed0;
        tree.Clear();
        int node = -1;
        for (int slot = fed0; slot < n; slot++) node = tree.Add(slot, drafts.Token(slot), node, 0);
        int spine = Root = node, slotNext = n;
        Array.Fill(_spineAt, -1);
        _spineAt[n - 1 - fed0] = Root;
        // Every node of a level gets the next slot's candidates as children, the spine's first
        // (_frontier[0] is always the spine), as many as the buffers hold.
        int frontierCount = 1;
        _frontier[0] = Root;
        for (int level = 0; level < depth && slotNext <= last - 1 && tree.Count < maxWindow; level++, slotNext++)
        {
            int c = Candidates(slotNext);
            int next = 0, nextSpine = -1;
            for (int f = 0; f < frontierCount; f++)
            {
                for (int r = 0; r < c && tree.Count < maxWindow; r++)
                {
                    int v = tree.Add(slotNext, _alternatives[r], _frontier[f], r);
                    _nextFrontier[next++] = v;
                    if (_frontier[f] == spine && r == 0) nextSpine = v;
                }
            }
            (_frontier, _nextFrontier) = (_nextFrontier, _frontier);
            frontierCount = next;
            spine = nextSpine;
            _spineAt[slotNext - fed0] = spine;
        }
        // The chain from the spine to the window's end; the last code slot is never fed.
        for (; slotNext - fed0 < window && tree.Count < maxWindow && slotNext <= last - 1; slotNext++)
        {
            spine = tree.Add(slotNext, drafts.Token(slotNext), spine, 0);
            _spineAt[slotNext - fed0] = spine;
        }
        return slotNext - fed0;
    }

    /// <summary>The spine node at a slot of the last build, or −1 (beyond the window or no node there).</summary>
    public int SpineAt(int slot)
    {
        int offset = slot - _fed0;
        return offset >= 0 && offset < _spineAt.Length ? _spineAt[offset] : -1;
    }

    /// <summary>
    /// The candidates of a slot: its own draft first, then up to width − 1 other codes drawn without
    /// replacement from the draft's q (the stale distribution it was sampled from), while the mass
    /// of q not yet drawn is at least <see cref="AlternativeFloor"/>.
    /// Drawn, not ranked: a stale q is the best guess at the true distribution, and at high
    /// entropy, where alternatives matter, no code stands out to rank (docs/decoding.md). A one-hot
    /// draft (a spatial prior) has no distribution to draw from and stays alone; so does a
    /// confident q.
    /// </summary>
    private int Candidates(int slot)
    {
        _alternatives[0] = drafts.Token(slot);
        if (width <= 1 || layout.IsForced(slot) || drafts.IsOneHot(slot)) return 1;
        var q = drafts.QBuffer(slot);
        var rest = _draw.AsSpan(0, q.Length);
        q.CopyTo(rest);
        rest[_alternatives[0]] = 0;
        int count = 1;
        while (count < width && TensorPrimitives.Sum(rest) >= AlternativeFloor)
        {
            int x = Categorical.Sample(rest, rng);
            _alternatives[count++] = x;
            rest[x] = 0;
        }
        return count;
    }

    // Stop drawing alternatives when the codes left hold less than this share of the stale distribution.
    private const float AlternativeFloor = 0.05f;
}
