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

    [Theory]
    [InlineData(DraftInitialization.Random, 16, 12_000, 21_000_000UL)]
    [InlineData(DraftInitialization.Vertical, 3, 8_000, 22_000_000UL)]
    public void Pac_MatchesExactArDistribution(DraftInitialization init, int window, int samples, ulong seed)
    {
        var (stat, df, limit) = ChiSquare(new GenerationOptions { Method = DecodingMethod.Pac, DraftInit = init, Window = window }, samples, seed, "pac");
        Assert.True(stat <= limit, $"pac: chi-square {stat:F1} with df {df} exceeds the 1e-4 limit {limit:F1}");
    }

    [Fact]
    public void PublishedAdaptiveContinuation_FailsTheSameTest()
    {
        // After a rejection at slot j the published rule goes on verifying the drafts of j+1, …
        // against outputs that saw the rejected draft at j, and commits them: slot j+1 is then
        // drawn from P(· | x_<j, d_j) instead of P(· | x_<j, x_j).
        var options = new GenerationOptions { Method = DecodingMethod.Pac, DraftInit = DraftInitialization.Random, StaleContinuation = true };
        var (stat, df, limit) = ChiSquare(options, 4_000, 23_000_000UL, "pac, stale continuation (as published)");
        Assert.True(stat > limit, $"committing stale continuations passed the exactness test (chi-square {stat:F1}, df {df}, limit {limit:F1})");
    }

    [Fact]
    public void BrokenCandidateVerifier_FailsTheSameTest()
    {
        var options = new GenerationOptions { Method = DecodingMethod.Pac, DraftInit = DraftInitialization.Random, AcceptEveryDraft = true };
        var (stat, df, limit) = ChiSquare(options, 1_600, 24_000_000UL, "pac, accept every candidate (broken)");
        Assert.True(stat > limit, $"a verifier that accepts every candidate passed the exactness test (chi-square {stat:F1}, df {df}, limit {limit:F1})");
    }

    [Fact]
    public void ForcedEndOfLine_KeepsTheMarginalExact()
    {
        // As SpeculativeDecoderTests.ForcedEndOfLine_KeepsTheMarginalExact, for PAC: the code after the
        // first end-of-line token is verified against the output of the forced input.
        string dir = SpeculativeTestSupport.ModelDir("tiny-eol");
        double[] exact = SpeculativeTestSupport.ExactMarginalAfterFirstRow(dir, Prompt);
        using var pipeline = Sjd2Pipeline.Load(dir);
        var counts = new long[exact.Length];
        const int samples = 4000;
        for (int i = 0; i < samples; i++)
            counts[pipeline.GenerateCodes(Prompt, new GenerationOptions { Method = DecodingMethod.Pac, Seed = 25_000_000 + (ulong)i }).Codes[3]]++;
        var (stat, df) = SpeculativeTestSupport.ChiSquare(counts, exact);
        double limit = SpeculativeTestSupport.ChiSquareQuantile(df, SpeculativeTestSupport.Z);
        output.WriteLine($"pac on tiny-eol, first code after the end of line: {samples} samples, chi-square {stat:F1}, df {df}, limit {limit:F1}");
        Assert.True(stat <= limit, $"chi-square {stat:F1}, df {df}, limit {limit:F1}");
    }

    private (double Stat, int Df, double Limit) ChiSquare(GenerationOptions options, int samples, ulong seed, string label)
    {
        var clock = Stopwatch.StartNew();
        var (stat, df, limit, counts, passes) = SpeculativeTestSupport.ChiSquareTest(micro.Pipeline, Prompt, options, samples, seed, micro.Exact);
        output.WriteLine($"{label} (init {options.DraftInit}, window {options.Window?.ToString() ?? "default"}, tree {options.TreeWidth?.ToString() ?? "default"}x{options.TreeDepth?.ToString() ?? "default"}): " +
            $"{samples} samples, chi-square {stat:F1}, df {df}, limit {limit:F1}, TV {SpeculativeTestSupport.TotalVariation(counts, micro.Exact):F4}, mean passes {passes:F2}, {clock.Elapsed.TotalSeconds:F1} s");
        return (stat, df, limit);
    }
}
