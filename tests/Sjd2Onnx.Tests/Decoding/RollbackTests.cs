using Sjd2Onnx.Model;
using Sjd2Onnx.Tests.Support;

namespace Sjd2Onnx.Tests;

/// <summary>
/// KV-cache rollback: Commit(k) after a window of S keeps exactly the cache that feeding only
/// those k tokens would have built, and Truncate(n) forgets everything after n.
/// </summary>
public class RollbackTests
{
    private const double Tol = 1e-4;
    private const string Prompt = "a green star near a white line";

    [Theory]
    [InlineData("tiny", false, 5, 2)]
    [InlineData("tiny", false, 6, 0)]
    [InlineData("tiny", false, 4, 3)]
    [InlineData("tiny", true, 5, 1)]
    [InlineData("tiny-eol", false, 6, 4)]
    [InlineData("tiny-eol", true, 3, 1)]
    public void CommitKeepsOnlyTheAcceptedPrefix(string model, bool noise, int window, int keep)
    {
        var seq = new CfgSequence(LoadedModel.Get(model), Prompt, seed: 5, noise);
        var drafts = new CfgSequence(LoadedModel.Get(model), Prompt, seed: 6, noise);
        int p = seq.PrefixLength;

        // A: prefix, window of `window` tokens whose tail are wrong drafts, keep `keep`.
        using var a = seq.NewRunner(extraCapacity: window);
        seq.Feed(a, 0, p, null);
        seq.FeedDraft(a, p, window, keep, drafts);
        Assert.Equal(p + keep, a.Length);

        // B: prefix, then only the accepted tokens.
        using var b = seq.NewRunner(extraCapacity: window);
        seq.Feed(b, 0, p, null);
        if (keep > 0) seq.Feed(b, p, keep, null);
        Assert.Equal(p + keep, b.Length);

        AssertSameCache(seq.Model, a, b, $"{model} window {window} keep {keep}");

        // The next pass (the tokens after the accepted ones) sees the same past.
        int next = Math.Min(4, seq.Total - (p + keep));
        var la = seq.NewLogits();
        var lb = seq.NewLogits();
        seq.Feed(a, p + keep, next, la);
        seq.Feed(b, p + keep, next, lb);
        CompareRows(seq, la, lb, p + keep, next, $"{model} window {window} keep {keep}, following pass");
    }

    [Theory]
    [InlineData("tiny")]
    [InlineData("tiny-eol")]
    public void RepeatedPartialCommitsMatchFeedingAcceptedTokensOnly(string model)
    {
        // A Jacobi-like schedule: windows of 4, accepting 1, 3, 0, 2, 4, ... tokens each time.
        var seq = new CfgSequence(LoadedModel.Get(model), Prompt, seed: 9, noise: true);
        var drafts = new CfgSequence(LoadedModel.Get(model), Prompt, seed: 10, noise: true);
        int p = seq.PrefixLength, window = 4;
        int[] accepts = [1, 3, 0, 2, 4, 1, 2, 3, 1, 4, 2, 1, 3, 2, 4, 1];
        using var a = seq.NewRunner(maxWindow: Math.Max(p, window), extraCapacity: window);
        using var b = seq.NewRunner(maxWindow: Math.Max(p, window), extraCapacity: window);
        var la = seq.NewLogits();
        var lb = seq.NewLogits();
        seq.Feed(a, 0, p, la);
        seq.Feed(b, 0, p, lb);
        int pos = p, step = 0;
        while (pos < seq.Total)
        {
            int s = Math.Min(window, seq.Total - pos);
            int keep = Math.Min(accepts[step++ % accepts.Length], s);
            // The window's first token is always right (as in Jacobi decoding); rejected tails are other codes.
            seq.FeedDraft(a, pos, s, Math.Max(keep, 1), drafts);
            if (keep == 0) a.Truncate(pos);
            if (keep > 0) seq.Feed(b, pos, keep, null);
            // The next token's logits only depend on the committed past: same on both.
            int at = pos + keep;
            if (at < seq.Total)
            {
                seq.Feed(a, at, 1, la, commit: 0);
                seq.Feed(b, at, 1, lb, commit: 0);
                CompareRows(seq, la, lb, at, 1, $"{model} step {step}");
            }
            pos += keep;
            Assert.Equal(pos, a.Length);
            Assert.Equal(pos, b.Length);
        }
        AssertSameCache(seq.Model, a, b, $"{model} after the whole image");
    }

    [Theory]
    [InlineData("tiny", 6, 2)]
    [InlineData("tiny", 3, 0)]
    [InlineData("tiny-eol", 8, 5)]
    public void TruncateThenRefeedEqualsNeverFeedingTheExtraTokens(string model, int fed, int keepAfterPrefix)
    {
        var seq = new CfgSequence(LoadedModel.Get(model), Prompt, seed: 13, noise: false);
        int p = seq.PrefixLength;
        int next = Math.Min(4, seq.Total - p - keepAfterPrefix);

        // A: feeds `keepAfterPrefix` right tokens, then wrong ones (other codes) up to `fed`, in two
        // fully committed windows; rolls back to the right ones.
        var other = new CfgSequence(seq.Model, Prompt, seed: 14, noise: false);
        using var a = seq.NewRunner();
        seq.Feed(a, 0, p, null);
        if (keepAfterPrefix > 0) seq.Feed(a, p, keepAfterPrefix, null);
        int extra = fed - keepAfterPrefix, first = extra / 2;
        if (first > 0) other.Feed(a, p + keepAfterPrefix, first, null);
        other.Feed(a, p + keepAfterPrefix + first, extra - first, null);
        Assert.Equal(p + fed, a.Length);
        a.Truncate(a.Length); // truncating to the current length is a no-op
        a.Truncate(p + keepAfterPrefix);
        Assert.Equal(p + keepAfterPrefix, a.Length);

        // B: never fed the extra tokens.
        using var b = seq.NewRunner();
        seq.Feed(b, 0, p, null);
        if (keepAfterPrefix > 0) seq.Feed(b, p, keepAfterPrefix, null);

        AssertSameCache(seq.Model, a, b, $"{model} truncate to {keepAfterPrefix}");

        var la = seq.NewLogits();
        var lb = seq.NewLogits();
        seq.Feed(a, p + keepAfterPrefix, next, la);
        seq.Feed(b, p + keepAfterPrefix, next, lb);
        CompareRows(seq, la, lb, p + keepAfterPrefix, next, $"{model} truncate to {keepAfterPrefix}, re-fed");
    }

    [Fact]
    public void RollbackThatDropsTokensChangesWhatFollows()
    {
        // Guard against a vacuous comparison: keeping 3 tokens is observably different from keeping 2.
        var seq = new CfgSequence(LoadedModel.Get("tiny"), Prompt, seed: 5, noise: false);
        int p = seq.PrefixLength;
        using var a = seq.NewRunner();
        using var b = seq.NewRunner();
        seq.Feed(a, 0, p, null);
        seq.Feed(b, 0, p, null);
        seq.Feed(a, p, 5, null, commit: 2);
        seq.Feed(b, p, 5, null, commit: 3);
        b.Truncate(p + 3);
        var la = seq.NewLogits();
        var lb = seq.NewLogits();
        seq.Feed(a, p + 3, 1, la); // a lacks token p+2, so the same input sits at another position
        seq.Feed(b, p + 3, 1, lb);
        int k = seq.Model.Codebook;
        double diff = 0;
        for (int c = 0; c < k; c++) diff = Math.Max(diff, Math.Abs(la[(p + 3) * k + c] - lb[(p + 3) * k + c]));
        Assert.True(diff > 1e-3, $"logits did not depend on the cache contents (max diff {diff})");
    }

    [Fact]
    public void MisuseIsRejected()
    {
        var seq = new CfgSequence(LoadedModel.Get("tiny"), Prompt, seed: 1, noise: false);
        using var r = seq.NewRunner();
        seq.Feed(r, 0, seq.PrefixLength, null);
        var (embeds, _) = seq.Window(seq.PrefixLength, 3);
        using var ro = new Microsoft.ML.OnnxRuntime.RunOptions();
        r.Run(embeds, 3, default, ro);
        Assert.Throws<InvalidOperationException>(() => r.Run(embeds, 3, default, ro)); // not committed
        Assert.Throws<InvalidOperationException>(() => r.Truncate(0));               // pending window
        Assert.Throws<ArgumentOutOfRangeException>(() => r.Commit(4));
        r.Commit(3);
        Assert.Throws<ArgumentOutOfRangeException>(() => r.Truncate(r.Length + 1));
    }

    private static void AssertSameCache(LoadedModel model, Transformer a, Transformer b, string what)
    {
        Assert.Equal(b.Length, a.Length);
        var t = model.Manifest.Transformer;
        for (int layer = 0; layer < t.NumLayers; layer++)
            for (int kind = 0; kind < 2; kind++)
                for (int row = 0; row < 2; row++)
                    for (int head = 0; head < t.NumKvHeads; head++)
                        for (int pos = 0; pos < a.Length; pos++)
                            Close.All(b.CachedRow(layer, kind, row, head, pos), a.CachedRow(layer, kind, row, head, pos), 1e-5,
                                $"{what}: cache layer {layer} {(kind == 0 ? "key" : "value")} row {row} head {head} position {pos}");
    }

    private static void CompareRows(CfgSequence seq, float[] expected, float[] actual, int start, int count, string what)
    {
        int k = seq.Model.Codebook;
        for (int row = 0; row < 2; row++)
            Close.All(expected.AsSpan((row * seq.Total + start) * k, count * k), actual.AsSpan((row * seq.Total + start) * k, count * k), Tol, $"{what}, row {row}");
    }
}
