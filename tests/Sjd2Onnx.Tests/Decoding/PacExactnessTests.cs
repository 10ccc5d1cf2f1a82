using System.Diagnostics;
using Xunit.Abstractions;

namespace Sjd2Onnx.Tests;

/// <summary>
/// PAC (proactive drafting with exact adaptive continuation) must sample the exact AR
/// distribution: the chi-square test of <see cref="SpeculativeExactnessTests"/> on the micro
/// model (false alarm 1e-4), and the forced-slot marginal on tiny-eol. Adaptive continuation as
/// published — committing drafts verified against distributions computed with a rejected draft
/// in the context — must fail the same test: that is the counterexample.
/// </summary>
public sealed class PacExactnessTests(SpeculativeMicroFixture micro, ITestOutputHelper output) : IClassFixture<SpeculativeMicroFixture>
{
    private const string Prompt = SpeculativeMicroFixture.Prompt;

    // Micro has 4 slots, so a window holds at most 4 nodes: the anchor and three candidates (for
    // slots 1 and 2; a level that does not fit is filled from the spine's children on). Deeper
    // trees are covered by tiny-eol's marginal and the top-k 1 tests.
    [Theory]
    [InlineData("pd+ac", DraftInitialization.Random, 3, 2, false, 12_000, 21_000_000UL)]
    [InlineData("pd+ac", DraftInitialization.Vertical, 2, 1, false, 8_000, 22_000_000UL)]
    [InlineData("pd alone", DraftInitialization.Random, 2, 1, true, 8_000, 26_000_000UL)]
    [InlineData("ac alone", DraftInitialization.Random, 1, 0, false, 8_000, 27_000_000UL)]
    public void Pac_MatchesExactArDistribution(string variant, DraftInitialization init, int width, int depth, bool withoutReuse, int samples, ulong seed)
    {
        var options = new GenerationOptions { Decoding = new PacOptions { DraftInit = init, TreeWidth = width, TreeDepth = depth, WithoutReuse = withoutReuse } };
        var (stat, df, limit) = ChiSquare(options, samples, seed, $"pac {variant}");
        Assert.True(stat <= limit, $"pac {variant}: chi-square {stat:F1} with df {df} exceeds the 1e-4 limit {limit:F1}");
    }

    [Fact]
    public void Pac_TopK3_MatchesExactArDistribution()
    {
        // Zero probabilities outside the top 3: candidates of zero probability, residuals with holes.
        var options = new GenerationOptions { Sampling = new() { TopK = 3 }, Decoding = new PacOptions { DraftInit = DraftInitialization.Horizontal, TreeWidth = 3, TreeDepth = 1 } };
        var exact = SpeculativeTestSupport.ExactDistribution(micro.Dir, Prompt, options.ResolveSampling(micro.Pipeline.Manifest.Sampling));
        var clock = Stopwatch.StartNew();
        var (stat, df, limit, counts, passes) = SpeculativeTestSupport.ChiSquareTest(micro.Pipeline, Prompt, options, 6_000, 28_000_000UL, exact);
        output.WriteLine($"pac top-k 3, horizontal, tree 3x1: 6000 samples, chi-square {stat:F1}, df {df}, limit {limit:F1}, TV {SpeculativeTestSupport.TotalVariation(counts, exact):F4}, mean passes {passes:F2}, {clock.Elapsed.TotalSeconds:F1} s");
        Assert.True(stat <= limit, $"chi-square {stat:F1} with df {df} exceeds the 1e-4 limit {limit:F1}");
    }

    [Fact]
    public void Pac_ReseedingAfterEveryStall_MatchesExactArDistribution()
    {
        var options = new GenerationOptions { Decoding = new PacOptions { DraftInit = DraftInitialization.Random, TreeWidth = 2, TreeDepth = 1, ReseedAfterStalls = 1 } };
        Assert.True(SpeculativeTestSupport.Reseeds(micro.Pipeline, Prompt, options, 200, 33_000_000UL) > 20, "re-seeding never fired");
        var (stat, df, limit) = ChiSquare(options, 8_000, 33_000_000UL, "pac 2x1, re-seeding after every stall");
        Assert.True(stat <= limit, $"chi-square {stat:F1} with df {df} exceeds the 1e-4 limit {limit:F1}");
    }

    [Fact]
    public void PublishedAdaptiveContinuation_FailsTheSameTest()
    {
        // After a rejection at slot j the published rule goes on verifying the drafts of j+1, …
        // against outputs that saw the rejected draft at j, and commits them: slot j+1 is then
        // drawn from P(· | x_<j, d_j) instead of P(· | x_<j, x_j).
        var options = new GenerationOptions { Decoding = new PacOptions { DraftInit = DraftInitialization.Random, TreeWidth = 1, TreeDepth = 0, StaleContinuation = true } };
        var (stat, df, limit) = ChiSquare(options, 4_000, 23_000_000UL, "pac, stale continuation (as published)");
        Assert.True(stat > limit, $"committing stale continuations passed the exactness test (chi-square {stat:F1}, df {df}, limit {limit:F1})");
    }

    [Fact]
    public void BrokenCandidateVerifier_FailsTheSameTest()
    {
        var options = new GenerationOptions { Decoding = new PacOptions { DraftInit = DraftInitialization.Random, AcceptEveryDraft = true } };
        var (stat, df, limit) = ChiSquare(options, 1_600, 24_000_000UL, "pac, accept every candidate (broken)");
        Assert.True(stat > limit, $"a verifier that accepts every candidate passed the exactness test (chi-square {stat:F1}, df {df}, limit {limit:F1})");
    }

    [Fact]
    public void PublishedAdaptiveContinuation_WithTrees_FailsTheSameTest()
    {
        var options = new GenerationOptions { Decoding = new PacOptions { DraftInit = DraftInitialization.Random, TreeWidth = 2, TreeDepth = 1, StaleContinuation = true } };
        var (stat, df, limit) = ChiSquare(options, 4_000, 29_000_000UL, "pac tree 2x1, stale continuation (as published)");
        Assert.True(stat > limit, $"committing stale continuations passed the exactness test (chi-square {stat:F1}, df {df}, limit {limit:F1})");
    }

    [Theory]
    [InlineData(2, 2, 25_000_000UL, null)]
    [InlineData(3, 3, 30_000_000UL, null)]
    [InlineData(2, 1, 34_000_000UL, 1)]
    public void ForcedEndOfLine_KeepsTheMarginalExact(int width, int depth, ulong seed, int? reseed)
    {
        // As SpeculativeDecoderTests.ForcedEndOfLine_KeepsTheMarginalExact, for PAC: the code after the
        // first end-of-line token is verified against the output of the forced input.
        string dir = SpeculativeTestSupport.ModelDir("tiny-eol");
        double[] exact = SpeculativeTestSupport.ExactMarginalAfterFirstRow(dir, Prompt);
        using var pipeline = Sjd2Pipeline.Load(dir);
        var counts = new long[exact.Length];
        const int samples = 4000;
        for (int i = 0; i < samples; i++)
            counts[pipeline.GenerateCodes(Prompt, new GenerationOptions { Seed = seed + (ulong)i, Decoding = new PacOptions { TreeWidth = width, TreeDepth = depth, DraftInit = DraftInitialization.Random, ReseedAfterStalls = reseed ?? 4 } }).Codes[3]]++;
        var (stat, df) = SpeculativeTestSupport.ChiSquare(counts, exact);
        double limit = SpeculativeTestSupport.ChiSquareQuantile(df, SpeculativeTestSupport.Z);
        output.WriteLine($"pac tree {width}x{depth}, re-seed after {reseed?.ToString() ?? "default"} stalls, on tiny-eol, first code after the end of line: {samples} samples, chi-square {stat:F1}, df {df}, limit {limit:F1}");
        Assert.True(stat <= limit, $"chi-square {stat:F1}, df {df}, limit {limit:F1}");
    }

    private (double Stat, int Df, double Limit) ChiSquare(GenerationOptions options, int samples, ulong seed, string label)
    {
        var clock = Stopwatch.StartNew();
        var (stat, df, limit, counts, passes) = SpeculativeTestSupport.ChiSquareTest(micro.Pipeline, Prompt, options, samples, seed, micro.Exact);
        output.WriteLine($"{label} ({options.Decoding}): " +
            $"{samples} samples, chi-square {stat:F1}, df {df}, limit {limit:F1}, TV {SpeculativeTestSupport.TotalVariation(counts, micro.Exact):F4}, mean passes {passes:F2}, {clock.Elapsed.TotalSeconds:F1} s");
        return (stat, df, limit);
    }
}
