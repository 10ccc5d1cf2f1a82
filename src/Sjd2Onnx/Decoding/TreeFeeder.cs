namespace Sjd2Onnx.Decoding;

/// <summary>
/// Feeds a <see cref="DraftTree"/> to the transformer and keeps the KV rows of a path through it.
/// A chain is an ordinary window. A tree needs tree attention in the model (the transformer's
/// optional <c>window_mask</c> input): each node attends the cache and its own ancestors, at the
/// position of its slot (its depth after the first node), so its logits are those of feeding its
/// path as a chain. A model without it can only be fed chains.
/// </summary>
internal sealed class TreeFeeder(DecodingContext ctx, int maxWindow)
{
    private readonly int[] _tokens = new int[maxWindow];
    private readonly int[] _offsets = new int[maxWindow];
    private readonly bool[] _mask = new bool[maxWindow * maxWindow];
    private readonly float[] _codeEmbeds = new float[maxWindow * ctx.Hidden];

    /// <summary>Whether the model and runner can attend within a window along a tree.</summary>
    public bool CanFeedTrees => ctx.SupportsTreeAttention;

    /// <summary>Runs one pass over the tree's nodes in window order; output j belongs to node j.</summary>
    public void Run(DraftTree tree)
    {
        int s = tree.Count;
        for (int j = 0; j < s; j++) _tokens[j] = tree.Token(j);
        if (tree.IsChain)
        {
            ctx.EmbedSlots(tree.Slot(0), _tokens, s);
            ctx.RunWindow(s);
            return;
        }
        // Node embeddings: the forced token's where the slot is forced, else the code's.
        var layout = ctx.Layout;
        int codes = 0, d = ctx.Hidden;
        for (int j = 0; j < s; j++)
            if (!layout.IsForced(tree.Slot(j))) _tokens[codes++] = tree.Token(j);
        ctx.EmbedCodes(_tokens.AsSpan(0, codes), _codeEmbeds);
        var row = ctx.WindowRow(0, s);
        for (int j = 0, c = 0; j < s; j++)
        {
            var dst = row.Slice(j * d, d);
            if (layout.IsForced(tree.Slot(j))) ctx.ForcedEmbedding.CopyTo(dst);
            else _codeEmbeds.AsSpan(c++ * d, d).CopyTo(dst);
        }
        // Node i attends node j exactly when j is on i's path from the first node.
        var mask = _mask.AsSpan(0, s * s);
        mask.Clear();
        for (int i = 0; i < s; i++)
        {
            _offsets[i] = tree.Depth(i);
            for (int j = i; j >= 0; j = tree.Parent(j)) mask[i * s + j] = true;
        }
        ctx.RunWindow(s, default, _offsets.AsSpan(0, s), mask);
    }

    /// <summary>Keeps the KV rows of <paramref name="count"/> nodes (a path from the first node, in window order) and drops the rest.</summary>
    public void Keep(int[] nodes, int count) => ctx.Commit(nodes.AsSpan(0, count));
}
