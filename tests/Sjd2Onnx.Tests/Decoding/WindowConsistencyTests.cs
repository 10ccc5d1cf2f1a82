using Sjd2Onnx.Model;
using Sjd2Onnx.Tests.Support;

namespace Sjd2Onnx.Tests;

/// <summary>
/// The contract the decoders rely on: with CFG-style rows of unequal prompt length (left padding),
/// the logits of one full pass over prefix + image tokens equal those of prefix-then-windows of any
/// size and of token-by-token feeding.
/// </summary>
public class WindowConsistencyTests
{
    private const double Tol = 1e-4;
    private const string Prompt = "a big red circle above a small blue square";

    public static TheoryData<string, bool, int> Cases()
    {
        var data = new TheoryData<string, bool, int>();
        foreach (var w in new[] { 1, 2, 3, 5, 100 }) data.Add("tiny", false, w);
        foreach (var w in new[] { 1, 2, 4, 7, 100 }) data.Add("tiny-eol", false, w);
        foreach (var w in new[] { 1, 3, 6, 100 }) data.Add("tiny", true, w);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void FullPassEqualsPrefixThenWindows(string model, bool noise, int window)
    {
        var seq = new CfgSequence(LoadedModel.Get(model), Prompt, seed: 7, noise);
        var full = FullPass(seq);

        using var runner = seq.NewRunner();
        var split = seq.NewLogits();
        seq.Feed(runner, 0, seq.PrefixLength, split);
        for (int start = seq.PrefixLength; start < seq.Total; start += window)
            seq.Feed(runner, start, Math.Min(window, seq.Total - start), split);
        Assert.Equal(seq.Total, runner.Length);

        CompareRealPositions(seq, full, split, $"{model} noise={noise} window={window}");
    }

    [Theory]
    [InlineData("tiny", false)]
    [InlineData("tiny-eol", false)]
    [InlineData("tiny", true)]
    public void FullPassEqualsTokenByTokenIncludingPrefix(string model, bool noise)
    {
        var seq = new CfgSequence(LoadedModel.Get(model), Prompt, seed: 11, noise);
        var full = FullPass(seq);

        using var runner = seq.NewRunner();
        var single = seq.NewLogits();
        for (int t = 0; t < seq.Total; t++) seq.Feed(runner, t, 1, single);

        CompareRealPositions(seq, full, single, $"{model} noise={noise} token-by-token");
    }

    [Fact]
    public void NoiseLevelsChangeTheLogits()
    {
        // Guards the noisy cases above against testing nothing: the noise input must matter.
        var model = LoadedModel.Get("tiny");
        var seq = new CfgSequence(model, Prompt, seed: 7, noise: true);
        var withNoise = FullPass(seq);
        var clean = new CfgSequence(model, Prompt, seed: 7, noise: true);
        Array.Clear(clean.ImageNoise); // same (noisy) embeddings, but σ = 0 fed to the graph
        var withoutNoise = FullPass(clean);
        int k = model.Codebook;
        double maxDiff = 0;
        for (int j = seq.PrefixLength + 2; j < seq.Total; j++)
            for (int c = 0; c < k; c++)
                maxDiff = Math.Max(maxDiff, Math.Abs(withNoise[j * k + c] - withoutNoise[j * k + c]));
        Assert.True(maxDiff > 1e-3, $"noise_levels had no visible effect (max diff {maxDiff})");
    }

    [Theory]
    [InlineData("tiny")]
    [InlineData("tiny-eol")]
    public void PaddingContentDoesNotLeakIntoRealTokens(string model)
    {
        // Padding is masked: what sits in the padded slots must not change any real token's logits.
        var m = LoadedModel.Get(model);
        var a = new CfgSequence(m, Prompt, seed: 3, noise: false, padFillId: 0);
        var b = new CfgSequence(m, Prompt, seed: 3, noise: false, padFillId: 30);
        Assert.True(a.Padding[1] > 0);
        Assert.NotEqual(a.PrefixEmbeds, b.PrefixEmbeds);
        CompareRealPositions(a, FullPass(a), FullPass(b), $"{model} padding fill");
    }

    [Theory]
    [InlineData("tiny", false)]
    [InlineData("tiny", true)]
    [InlineData("tiny-eol", false)]
    public void EachRowOfThePaddedBatchEqualsThatRowAlone(string model, bool noise)
    {
        // Left padding must be invisible: mask and position ids make a padded row behave exactly
        // like the same tokens run unpadded with batch 1.
        var seq = new CfgSequence(LoadedModel.Get(model), Prompt, seed: 21, noise);
        var batched = FullPass(seq);
        int d = seq.Model.Hidden, k = seq.Model.Codebook;
        for (int row = 0; row < 2; row++)
        {
            int pad = seq.Padding[row], length = seq.Total - pad;
            var (embeds, noiseLevels) = seq.Window(0, seq.Total);
            var rowEmbeds = embeds.AsSpan((row * seq.Total + pad) * d, length * d).ToArray();
            var rowNoise = noiseLevels.AsSpan(row * seq.Total + pad, length).ToArray();
            using var runner = new Transformer(seq.Model.Sessions, seq.Model.Manifest, 1, length, length);
            using var ro = new Microsoft.ML.OnnxRuntime.RunOptions();
            runner.Run(rowEmbeds, length, noise ? rowNoise : default, ro);
            for (int j = 0; j < length; j++)
                Close.All(batched.AsSpan((row * seq.Total + pad + j) * k, k), runner.Logits(0, j), Tol, $"{model} row {row} token {j}");
        }
    }

    private static float[] FullPass(CfgSequence seq)
    {
        using var runner = seq.NewRunner();
        var logits = seq.NewLogits();
        seq.Feed(runner, 0, seq.Total, logits);
        return logits;
    }

    private static void CompareRealPositions(CfgSequence seq, float[] expected, float[] actual, string what)
    {
        int k = seq.Model.Codebook;
        for (int b = 0; b < 2; b++)
        {
            int from = seq.Padding[b];
            int count = (seq.Total - from) * k;
            Close.All(expected.AsSpan((b * seq.Total + from) * k, count), actual.AsSpan((b * seq.Total + from) * k, count), Tol, $"{what}, row {b}");
        }
        // The runs must have produced real logits, not an untouched buffer.
        Assert.Contains(actual, v => v != 0);
    }
}
