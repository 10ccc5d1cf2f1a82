namespace Sjd2Onnx.Decoding;

/// <summary>
/// Feeds a <see cref="DraftTree"/> to the transformer and keeps the KV rows of a path through it.
/// A chain is an ordinary window. A tree needs tree attention in the model (each node attends to
/// the cache and its own ancestors, at the position of its slot); a model without it can only be
/// fed chains.
/// </summary>
internal sealed class TreeFeeder(DecodingContext ctx, int maxWindow)
{
    private readonly int[] _tokens = new int[maxWindow];

    /// <summary>Whether the model and runner can attend within a window along a tree.</summary>
    public bool CanFeedTrees => false;

    /// <summary>Runs one pass over the tree's nodes in window order; output j belongs to node j.</summary>
    public void Run(DraftTree tree)
    {
        int s = tree.Count;
        for (int j = 0; j < s; j++) _tokens[j] = tree.Token(j);
        if (!tree.IsChain) throw new InvalidOperationException("this model cannot attend along a draft tree");
        ctx.EmbedSlots(tree.Slot(0), _tokens, s);
        ctx.RunWindow(s);
    }

    /// <summary>Keeps the KV rows of <paramref name="count"/> nodes (a path from the first node, in window order) and drops the rest.</summary>
    public void Keep(DraftTree tree, int[] nodes, int count)
    {
        for (int i = 0; i < count; i++)
            if (nodes[i] != i) throw new InvalidOperationException($"path node {nodes[i]} of tree with {tree.Count} nodes is not a window prefix");
        ctx.Runner.Commit(count);
    }
}
