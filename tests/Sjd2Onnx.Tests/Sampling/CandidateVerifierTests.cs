using Sjd2Onnx.Sampling;

namespace Sjd2Onnx.Tests;

/// <summary>
/// Recursive rejection sampling over several candidates (PAC's tree verification) in isolation, by
/// Monte Carlo: 200k outcomes over a handful of codes, 6 standard errors per code (false alarm
/// about 2e-9 per code), as in <see cref="SpeculativeVerifierTests"/>.
/// </summary>
public sealed class CandidateVerifierTests
{
    private const int Draws = 200_000;

    private static readonly float[] P = [0.05f, 0.4f, 0.3f, 0f, 0.25f];
    private static readonly float[] Q = [0.3f, 0.1f, 0.3f, 0.2f, 0.1f];

    [Fact]
    public void SampledDraftThenOneHotAlternatives_GivesP()
    {
        // PAC's candidate list: the slot's own draft (drawn from q), then the two most likely other
        // codes of q (deterministic given the draft: one-hot proposals).
        var verifier = new CandidateVerifier(P.Length);
        var rng = new SeededRandom(11);
        var counts = new int[P.Length];
        for (int i = 0; i < Draws; i++)
        {
            int d = Categorical.Sample(Q, rng);
            var others = Enumerable.Range(0, Q.Length).Where(x => x != d).OrderByDescending(x => Q[x]).ThenBy(x => x).Take(2).ToArray();
            verifier.Begin(P);
            int result = verifier.TryAccept(d, Q, rng) ? d
                : verifier.TryAccept(others[0], default, rng) ? others[0]
                : verifier.TryAccept(others[1], default, rng) ? others[1]
                : verifier.Finish(rng);
            counts[result]++;
        }
        AssertFollows(counts, P);
    }

    [Fact]
    public void CandidatesDrawnWithoutReplacement_GiveP()
    {
        // PAC's candidate list: the slot's own draft, then two other codes drawn from q without
        // replacement (each from q without the codes before it, renormalised).
        var (counts, accepted) = VerifyThreeDrawnCandidates(15, (verifier, c, rng) => verifier.TryAcceptWithoutReplacement(c, Q, rng));
        AssertFollows(counts, P);
        // More candidates cover more of P than the draft alone (Σ min(p, q) = 0.55 here).
        Assert.True(accepted / (double)Draws > 0.6, $"candidates accepted {accepted / (double)Draws:F3} of the time");
    }

    [Fact]
    public void CandidatesWithoutReplacement_VerifiedAsIfIndependent_FailTheSameTest()
    {
        // Mutation check: verifying the later candidates against q itself (their law if drawn with
        // replacement) instead of q without the earlier ones skews the result.
        var (counts, _) = VerifyThreeDrawnCandidates(16, (verifier, c, rng) => verifier.TryAccept(c, Q, rng));
        Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => AssertFollows(counts, P));
    }

    // Draws three candidates from Q without replacement, verifies them in order with `accept`
    // against P, and counts the outcomes and how often a candidate was accepted.
    private static (int[] Counts, int Accepted) VerifyThreeDrawnCandidates(ulong seed, Func<CandidateVerifier, int, SeededRandom, bool> accept)
    {
        var verifier = new CandidateVerifier(P.Length);
        var rng = new SeededRandom(seed);
        var counts = new int[P.Length];
        var rest = new float[Q.Length];
        var list = new int[3];
        int accepted = 0;
        for (int i = 0; i < Draws; i++)
        {
            Q.CopyTo(rest, 0);
            for (int c = 0; c < list.Length; c++)
            {
                list[c] = Categorical.Sample(rest, rng);
                rest[list[c]] = 0;
            }
            verifier.Begin(P);
            int result = -1;
            foreach (int c in list)
                if (accept(verifier, c, rng)) { result = c; accepted++; break; }
            counts[result >= 0 ? result : verifier.Finish(rng)]++;
        }
        return (counts, accepted);
    }

    [Fact]
    public void OneHotCandidates_GivePAndAcceptWithTheirCoveredMass()
    {
        // Deterministic candidates 2, 3 (P = 0) and 1: one of them is accepted with probability
        // P(2) + P(3) + P(1) = 0.7, the sum of what they cover.
        var verifier = new CandidateVerifier(P.Length);
        var rng = new SeededRandom(12);
        var counts = new int[P.Length];
        int accepted = 0;
        for (int i = 0; i < Draws; i++)
        {
            verifier.Begin(P);
            int result = -1;
            foreach (int c in new[] { 2, 3, 1 })
                if (verifier.TryAccept(c, default, rng)) { result = c; accepted++; break; }
            counts[result >= 0 ? result : verifier.Finish(rng)]++;
        }
        AssertFollows(counts, P);
        double share = accepted / (double)Draws, se = Math.Sqrt(0.7 * 0.3 / Draws);
        Assert.True(Math.Abs(share - 0.7) <= 6 * se, $"candidates accepted {share:F4} of the time, expected 0.7");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void OneCandidate_IsTheSpeculativeRuleBitForBit(bool withoutReplacement)
    {
        // With a single candidate the verifier must consume the random stream exactly as SJD's,
        // by either rule (drawn without replacement needs a sampled q: no one-hot drafts there).
        var single = new CandidateVerifier(P.Length);
        var rule = new SpeculativeVerifier(P.Length);
        var a = new SeededRandom(13);
        var b = new SeededRandom(13);
        for (int i = 0; i < 2000; i++)
        {
            int d = i % P.Length;
            var q = withoutReplacement || i % 2 == 0 ? Q : default;
            single.Begin(P);
            bool kept = withoutReplacement ? single.TryAcceptWithoutReplacement(d, q, a) : single.TryAccept(d, q, a);
            int x = kept ? d : single.Finish(a);
            int y = rule.Accept(P, d, q, b) ? d : rule.Resample(P, d, q, b);
            Assert.Equal(y, x);
        }
    }

    [Fact]
    public void WithoutTheResidualUpdate_TheSameTestFails()
    {
        // Mutation check of the Monte Carlo test itself: after rejecting one-hot candidates,
        // sampling P (not the residual) over-weights the rejected codes.
        var verifier = new CandidateVerifier(P.Length);
        var rng = new SeededRandom(14);
        var counts = new int[P.Length];
        for (int i = 0; i < Draws; i++)
        {
            verifier.Begin(P);
            counts[verifier.TryAccept(1, default, rng) ? 1 : Categorical.Sample(P, rng)]++;
        }
        Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => AssertFollows(counts, P));
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
