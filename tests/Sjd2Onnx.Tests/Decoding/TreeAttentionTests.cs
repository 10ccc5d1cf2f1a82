using Microsoft.ML.OnnxRuntime;
using Sjd2Onnx.Model;
using Sjd2Onnx.Tests.Support;

namespace Sjd2Onnx.Tests;

/// <summary>
/// Tree attention (the transformer's <c>window_mask</c> input): one pass over a tree of drafts gives
/// every node the logits of its root path fed as an ordinary chain, and committing one path leaves
/// the cache that feeding that path would have built.
/// </summary>
public class TreeAttentionTests
{
    private const double Tol = 1e-4;
    private const string Prompt = "a big red circle above a small blue square";

    // Node j's parent (-1: child of the last cached token). Two branches at the root, one deeper.
    private static readonly int[] Parents = [-1, 0, 0, 1, 2, 2, 4, -1];

    [Theory]
    [InlineData("tiny", false)]
    [InlineData("tiny", true)]
    [InlineData("tiny-eol", false)]
    [InlineData("micro", false)]
    [InlineData("families/llamagen", false)]
    [InlineData("families/lumina-mgpt", false)]
    [InlineData("families/emu3", false)]
    public void TreePassLogitsEqualThoseOfEachRootPathAsAChain(string model, bool noise)
    {
        var seq = Sequence(model, seed: 17, noise);
        int s = Math.Min(Parents.Length, seq.ImageLength);
        var parents = Parents.AsSpan(0, s).ToArray();
        var (mask, depth) = Tree(parents);
        var (embeds, noiseLevels) = seq.Window(seq.PrefixLength, s);

        using var tree = seq.NewRunner();
        Assert.True(tree.SupportsTreeAttention);
        seq.Feed(tree, 0, seq.PrefixLength, null);
        using var ro = new RunOptions();
        tree.Run(embeds, s, noise ? noiseLevels : default, depth, mask, ro);

        double spread = 0;
        for (int i = 0; i < s; i++)
        {
            var path = Path(parents, i);
            using var chain = seq.NewRunner();
            seq.Feed(chain, 0, seq.PrefixLength, null);
            var (pathEmbeds, pathNoise) = Gather(seq, embeds, noiseLevels, s, path);
            chain.Run(pathEmbeds, path.Length, noise ? pathNoise : default, ro);
            for (int row = 0; row < 2; row++)
            {
                Close.All(chain.Logits(row, path.Length - 1), tree.Logits(row, i), Tol, $"{model} node {i} row {row}");
                spread = Math.Max(spread, MaxDiff(tree.Logits(row, i), tree.Logits(row, 0)));
            }
        }
        // Nodes see different contexts: their logits must differ, or the comparison proves nothing.
        Assert.True(spread > 1e-3, $"all tree nodes gave the same logits (max diff {spread})");
    }

    [Theory]
    [InlineData("tiny", false, 6)]
    [InlineData("tiny", true, 4)]
    [InlineData("tiny-eol", false, 3)]
    [InlineData("families/llamagen", false, 5)]
    public void CommittingATreePathEqualsFeedingThatPath(string model, bool noise, int leaf)
    {
        var seq = Sequence(model, seed: 19, noise);
        int s = Math.Min(Parents.Length, seq.ImageLength);
        var parents = Parents.AsSpan(0, s).ToArray();
        var (mask, depth) = Tree(parents);
        var (embeds, noiseLevels) = seq.Window(seq.PrefixLength, s);
        var path = Path(parents, leaf);
        using var ro = new RunOptions();

        using var a = seq.NewRunner();
        seq.Feed(a, 0, seq.PrefixLength, null);
        a.Run(embeds, s, noise ? noiseLevels : default, depth, mask, ro);
        a.Commit(path);

        using var b = seq.NewRunner();
        seq.Feed(b, 0, seq.PrefixLength, null);
        var (pathEmbeds, pathNoise) = Gather(seq, embeds, noiseLevels, s, path);
        b.Run(pathEmbeds, path.Length, noise ? pathNoise : default, ro);
        b.Commit(path.Length);

        Assert.Equal(b.Length, a.Length);
        var t = seq.Model.Manifest.Transformer;
        for (int layer = 0; layer < t.NumLayers; layer++)
            for (int kind = 0; kind < 2; kind++)
                for (int row = 0; row < 2; row++)
                    for (int head = 0; head < t.NumKvHeads; head++)
                        for (int pos = 0; pos < a.Length; pos++)
                            Close.All(b.CachedRow(layer, kind, row, head, pos), a.CachedRow(layer, kind, row, head, pos), 1e-5,
                                $"{model} path to {leaf}: layer {layer} kind {kind} row {row} head {head} position {pos}");

        // The pass after the commit sees the same past on both.
        var (next, nextNoise) = seq.Window(seq.PrefixLength + 1, 2);
        a.Run(next, 2, noise ? nextNoise : default, ro);
        b.Run(next, 2, noise ? nextNoise : default, ro);
        for (int row = 0; row < 2; row++)
            for (int j = 0; j < 2; j++)
                Close.All(b.Logits(row, j), a.Logits(row, j), Tol, $"{model} path to {leaf}: following pass row {row} token {j}");
    }

    [Fact]
    public void ACommitThatBreaksTheSequenceIsRejected()
    {
        var seq = new CfgSequence(LoadedModel.Get("tiny"), Prompt, seed: 23, noise: false);
        var (mask, depth) = Tree(Parents);
        var (embeds, _) = seq.Window(seq.PrefixLength, Parents.Length);
        using var r = seq.NewRunner();
        seq.Feed(r, 0, seq.PrefixLength, null);
        using var ro = new RunOptions();
        r.Run(embeds, Parents.Length, default, depth, mask, ro);
        Assert.Throws<InvalidOperationException>(() => r.Commit([1]));         // depth 1 cannot be cached at offset 0
        Assert.Throws<InvalidOperationException>(() => r.Commit([0, 3]));      // node 3 sits at depth 2
        Assert.Throws<InvalidOperationException>(() => r.Commit([0, 1, 4]));   // node 4 is not a child of node 1
        Assert.Throws<InvalidOperationException>(() => r.Commit(3));           // window token 2 is a sibling, not a successor
        Assert.Throws<ArgumentOutOfRangeException>(() => r.Commit([0, 99]));
        Assert.Throws<ArgumentException>(() => r.Commit([0, 0]));
        r.Commit([0, 2, 5]);
        Assert.Equal(seq.PrefixLength + 3, r.Length);
    }

    // Ancestor mask [S·S] (a node sees itself and its ancestors) and depths.
    // The family test models' CFG rows may be as long as each other (LlamaGen pads the prompt).
    private static CfgSequence Sequence(string model, ulong seed, bool noise) =>
        new(LoadedModel.Get(model), Prompt, seed, noise, equalRowsAllowed: model.StartsWith("families/", StringComparison.Ordinal));

    private static (bool[] Mask, int[] Depth) Tree(int[] parents)
    {
        int s = parents.Length;
        var mask = new bool[s * s];
        var depth = new int[s];
        for (int i = 0; i < s; i++)
        {
            foreach (int j in Path(parents, i)) mask[i * s + j] = true;
            depth[i] = Path(parents, i).Length - 1;
        }
        return (mask, depth);
    }

    private static int[] Path(int[] parents, int node)
    {
        var path = new List<int>();
        for (int j = node; j >= 0; j = parents[j]) path.Add(j);
        path.Reverse();
        return [.. path];
    }

    private static (float[] Embeds, float[] Noise) Gather(CfgSequence seq, float[] embeds, float[] noise, int s, int[] path)
    {
        int d = seq.Model.Hidden, n = path.Length;
        var e = new float[2 * n * d];
        var z = new float[2 * n];
        for (int b = 0; b < 2; b++)
            for (int m = 0; m < n; m++)
            {
                embeds.AsSpan((b * s + path[m]) * d, d).CopyTo(e.AsSpan((b * n + m) * d, d));
                z[b * n + m] = noise[b * s + path[m]];
            }
        return (e, z);
    }

    private static double MaxDiff(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double m = 0;
        for (int i = 0; i < a.Length; i++) m = Math.Max(m, Math.Abs(a[i] - b[i]));
        return m;
    }
}
