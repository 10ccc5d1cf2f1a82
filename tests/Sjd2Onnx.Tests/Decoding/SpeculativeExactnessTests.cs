using Sjd2Onnx.Tests.Support;
using System.Diagnostics;
using Sjd2Onnx.Sampling;
using Xunit.Abstractions;

namespace Sjd2Onnx.Tests;

/// <summary>A committed model of 2×2 codes of 5 (625 sequences), opened once, with its exact AR distribution for <see cref="Prompt"/>.</summary>
public abstract class ExactMicroFixture : IDisposable
{
    public const string Prompt = "a red circle";

    protected ExactMicroFixture(string model)
    {
        Dir = SpeculativeTestSupport.ModelDir(model);
        Pipeline = Sjd2Pipeline.Load(Dir);
        Exact = SpeculativeTestSupport.ExactDistribution(Dir, Prompt);
    }

    public string Dir { get; }
    public Sjd2Pipeline Pipeline { get; }
    public double[] Exact { get; }

    public void Dispose()
    {
        Pipeline.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>The micro model, shared by the exactness tests.</summary>
public sealed class SpeculativeMicroFixture() : ExactMicroFixture("micro");

/// <summary>
/// SJD and SJD++ must be lossless: their samples must follow the exact AR distribution, computed
/// by the chain rule over all 5^4 = 625 code sequences of the micro model with the engine's own
/// transformer and distribution builder (same CFG 3, temperature 1, no top-k; one test with top-k 3). Test: Pearson
/// chi-square with cells of expected count &lt; 5 pooled, rejected above the upper 1e-4 quantile
/// (z = 3.719, Wilson–Hilferty), so a correct decoder fails a given test with probability about
/// 1e-4 (the seeds are fixed, so a run either always passes or always fails). The same test must
/// reject a broken verifier that accepts every draft.
/// </summary>
public sealed class SpeculativeExactnessTests(SpeculativeMicroFixture micro, ITestOutputHelper output) : IClassFixture<SpeculativeMicroFixture>
{
    private const int Samples = 16_000;

    [Fact]
    public void Ar_MatchesExactArDistribution() =>
        AssertMatches(new GenerationOptions { Decoding = new ArOptions() }, Samples / 5, 6_000_000);

    [Fact]
    public void Sjd_MatchesExactArDistribution() =>
        AssertMatches(new GenerationOptions { Decoding = new SjdOptions { DraftInit = DraftInitialization.Random } }, Samples, 1_000_000);

    [Fact]
    public void Sjd_VerticalInitWindow3_MatchesExactArDistribution() =>
        AssertMatches(new GenerationOptions { Decoding = new SjdOptions { DraftInit = DraftInitialization.Vertical, Window = 3 } }, Samples / 2, 2_000_000);

    [Fact]
    public void SjdPlusPlusCoupled_MatchesExactArDistribution() =>
        AssertMatches(new GenerationOptions { Decoding = new SjdPlusPlusOptions { Reuse = DraftReuse.Coupled, DraftInit = DraftInitialization.Random } }, Samples, 3_000_000);

    [Fact]
    public void SjdPlusPlusThreshold_MatchesExactArDistribution() =>
        AssertMatches(new GenerationOptions { Decoding = new SjdPlusPlusOptions { Reuse = DraftReuse.Threshold, ReuseThreshold = 0.2f, DraftInit = DraftInitialization.Random } }, Samples * 5 / 8, 7_000_000);

    [Theory]
    [InlineData(DraftReuse.Threshold)]
    [InlineData(DraftReuse.Coupled)]
    public void SjdPlusPlus_TopK3_MatchesExactArDistribution(DraftReuse rule)
    {
        // Zero probabilities outside the top 3 exercise the residual and the reuse rules with holes.
        var options = new GenerationOptions
        { Sampling = new() { TopK = 3 }, Decoding = new SjdPlusPlusOptions { Reuse = rule, ReuseThreshold = rule == DraftReuse.Threshold ? 0.3f : null, DraftInit = DraftInitialization.Horizontal } };
        var exact = SpeculativeTestSupport.ExactDistribution(micro.Dir, SpeculativeMicroFixture.Prompt, options.ResolveSampling(micro.Pipeline.Manifest.Sampling));
        AssertMatches(options, Samples * 3 / 8, rule == DraftReuse.Threshold ? 4_000_000UL : 8_000_000UL, exact);
    }

    [Theory]
    [InlineData(DecodingMethod.Sjd, DraftInitialization.Vertical, 31_000_000UL)]
    [InlineData(DecodingMethod.SjdPlusPlus, DraftInitialization.Random, 32_000_000UL)]
    public void ReseedingAfterEveryStall_MatchesExactArDistribution(DecodingMethod method, DraftInitialization init, ulong seed)
    {
        // Re-seeding after every one-token pass: on micro's 2×2 image a rejection of slot 1 re-seeds
        // slots 2 and 3 from the codes above them.
        var options = new GenerationOptions { Decoding = TestDecoding.For(method, DraftInit: init, ReseedAfterStalls: 1) };
        Assert.True(SpeculativeTestSupport.Reseeds(micro.Pipeline, SpeculativeMicroFixture.Prompt, options, 200, seed) > 20, "re-seeding never fired");
        AssertMatches(options, Samples / 2, seed);
    }

    [Fact]
    public void BrokenVerifier_FailsTheSameTest()
    {
        var (stat, df, limit) = ChiSquare(new GenerationOptions { Decoding = new SjdOptions { DraftInit = DraftInitialization.Random, AcceptEveryDraft = true } }, Samples / 10, 5_000_000, micro.Exact);
        Assert.True(stat > limit, $"a verifier that accepts every draft passed the exactness test (chi-square {stat:F1}, df {df}, limit {limit:F1})");
    }

    [Fact]
    public void ExactDistribution_IsNormalised() => Assert.Equal(1.0, micro.Exact.Sum(), 4);

    private void AssertMatches(GenerationOptions options, int samples, ulong seed, double[]? exact = null)
    {
        var (stat, df, limit) = ChiSquare(options, samples, seed, exact ?? micro.Exact);
        Assert.True(stat <= limit, $"{options.Method}: chi-square {stat:F1} with df {df} exceeds the 1e-4 limit {limit:F1}");
    }

    private (double Stat, int Df, double Limit) ChiSquare(GenerationOptions options, int samples, ulong seed, double[] exact)
    {
        var clock = Stopwatch.StartNew();
        var (stat, df, limit, counts, passes) = SpeculativeTestSupport.ChiSquareTest(micro.Pipeline, SpeculativeMicroFixture.Prompt, options, samples, seed, exact);
        output.WriteLine($"{options.Decoding} (top-k {options.Sampling.TopK}): " +
            $"{samples} samples, chi-square {stat:F1}, df {df}, limit {limit:F1}, TV {SpeculativeTestSupport.TotalVariation(counts, exact):F4}, " +
            $"mean passes {passes:F2}, {clock.Elapsed.TotalSeconds:F1} s");
        return (stat, df, limit);
    }
}
