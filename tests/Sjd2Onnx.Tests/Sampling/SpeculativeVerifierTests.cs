using Sjd2Onnx.Sampling;

namespace Sjd2Onnx.Tests;

/// <summary>
/// The speculative rule in isolation, by Monte Carlo against known distributions. Each test
/// draws 200k outcomes over a handful of codes and allows 6 standard errors per code (false
/// alarm about 2e-9 per code).
/// </summary>
public sealed class SpeculativeVerifierTests
{
    private const int Draws = 200_000;

    private static readonly float[] P = [0.05f, 0.4f, 0.3f, 0f, 0.25f];
    private static readonly float[] Q = [0.3f, 0.1f, 0.3f, 0.2f, 0.1f];

    [Fact]
    public void AcceptOrResample_GivesP_ForAFullDraftDistribution()
    {
        var verifier = new SpeculativeVerifier(P.Length);
        var rng = new SeededRandom(1);
        var counts = new int[P.Length];
        for (int i = 0; i < Draws; i++)
        {
            int d = Categorical.Sample(Q, rng);
            counts[verifier.Accept(P, d, Q, rng) ? d : verifier.Resample(P, d, Q, rng)]++;
        }
        AssertFollows(counts, P);
    }

    [Fact]
    public void AcceptOrResample_GivesP_ForAOneHotDraft()
    {
        var verifier = new SpeculativeVerifier(P.Length);
        var rng = new SeededRandom(2);
        var counts = new int[P.Length];
        for (int i = 0; i < Draws; i++)
        {
            const int d = 2; // a deterministic draft: q is one-hot, passed as an empty span
            counts[verifier.Accept(P, d, default, rng) ? d : verifier.Resample(P, d, default, rng)]++;
        }
        AssertFollows(counts, P);
    }

    [Fact]
    public void Resample_WithAnEmptyResidual_SamplesP()
    {
        // P ≤ q everywhere (here P = q): max(0, P − q) is all zero; a naive normalisation gives NaN.
        var verifier = new SpeculativeVerifier(P.Length);
        var rng = new SeededRandom(3);
        var counts = new int[P.Length];
        for (int i = 0; i < Draws / 4; i++) counts[verifier.Resample(P, 1, P, rng)]++;
        AssertFollows(counts, P);

        // One-hot P on the one-hot draft: the residual is empty too; the only possible code comes back.
        float[] oneHot = [0f, 0f, 1f, 0f, 0f];
        Assert.Equal(2, verifier.Resample(oneHot, 2, default, rng));
    }

    [Fact]
    public void BrokenVerifier_AcceptsEverything()
    {
        var verifier = new SpeculativeVerifier(P.Length, acceptEveryDraft: true);
        Assert.True(verifier.Accept(P, 3, default, new SeededRandom(4))); // P(3) = 0
    }

    [Theory]
    [InlineData(0.2f, true)]
    [InlineData(0.2f, false)]
    [InlineData(0.01f, false)]
    [InlineData(1f, false)]
    public void Reuse_NewDraftFollowsTheMixedDistribution(float tau, bool oneHotOld)
    {
        // Old draft d ~ q_old; the reuse rule must produce a draft distributed as the q it writes back.
        float[] pNew = [0.5f, 0.05f, 0.15f, 0.3f, 0f];
        var rng = new SeededRandom(5);
        var counts = new int[P.Length];
        float[]? mixed = null;
        for (int i = 0; i < Draws; i++)
        {
            int old = oneHotOld ? 1 : Categorical.Sample(Q, rng);
            var q = oneHotOld ? new float[P.Length] : (float[])Q.Clone();
            bool oneHot = oneHotOld;
            int next = SpeculativeVerifier.Reuse(pNew, old, ref oneHot, q, tau, rng);
            counts[next]++;
            if (!oneHotOld)
            {
                // The mix is computed from q_old and P_new only, never from the draft: the same every time.
                if (mixed is null) mixed = q;
                else Assert.Equal(mixed, q);
                Assert.False(oneHot);
            }
            else if (oneHot) Assert.Equal(1, next);
        }
        if (oneHotOld)
        {
            // Old draft 1 has P_new = 0.05: kept for τ ≤ 0.05, else replaced by a sample of P_new.
            float[] expected = tau <= 0.05f ? [0f, 1f, 0f, 0f, 0f] : pNew;
            AssertFollows(counts, expected);
        }
        else
        {
            Assert.NotNull(mixed);
            Assert.Equal(1.0, mixed.Sum(), 5);
            AssertFollows(counts, mixed);
        }
    }

    private static void AssertFollows(int[] counts, float[] probs)
    {
        double n = counts.Sum();
        for (int i = 0; i < probs.Length; i++)
        {
            double p = probs[i], se = Math.Sqrt(Math.Max(p * (1 - p), 1e-12) / n);
            Assert.True(Math.Abs(counts[i] / n - p) <= 6 * se + 1e-9,
                $"code {i}: frequency {counts[i] / n:F4}, expected {p:F4} (6 s.e. = {6 * se:F4})");
        }
    }
}
