using System.Diagnostics;
using Sjd2Onnx.Sampling;
using Xunit.Abstractions;

namespace Sjd2Onnx.Tests;

/// <summary>micro-int4: the micro model exported with 4-bit weights (MatMulNBits), with its exact AR distribution.</summary>
public sealed class QuantizedMicroFixture() : ExactMicroFixture(Model)
{
    public const string Model = "micro-int4";
}

/// <summary>
/// The lossless decoders stay lossless on a model with block-quantized weights: the chi-square test
/// of <see cref="SpeculativeExactnessTests"/> (exact distribution by the chain rule over all 625
/// sequences, upper 1e-4 quantile) on micro-int4, the micro model exported with
/// <c>--weights int4</c>. A speculative pass verifies W tokens in one MatMulNBits call while AR runs
/// one, so this is where kernels that computed a row differently by window would show.
/// </summary>
public sealed class QuantizedExactnessTests(QuantizedMicroFixture micro, ITestOutputHelper output) : IClassFixture<QuantizedMicroFixture>
{
    private const int Samples = 8_000;

    [Fact]
    public void Model_IsQuantized_AndItsDistributionDiffersFromFloat32()
    {
        Assert.Equal("int4", micro.Pipeline.Manifest.Weights.Format);
        string graph = File.ReadAllText(Path.Combine(micro.Dir, micro.Pipeline.Manifest.Graphs.Transformer), System.Text.Encoding.Latin1);
        Assert.Contains("MatMulNBits", graph, StringComparison.Ordinal);
        // Same seed and shape as micro: the rounded weights move the distribution, but not far.
        var float32 = SpeculativeTestSupport.ExactDistribution(SpeculativeTestSupport.ModelDir("micro"), SpeculativeMicroFixture.Prompt);
        double tv = 0.5 * micro.Exact.Zip(float32, (a, b) => Math.Abs(a - b)).Sum();
        output.WriteLine($"total variation between the int4 and float32 micro distributions: {tv:F4}");
        Assert.InRange(tv, 1e-4, 0.5);
    }

    [Fact]
    public void Parity_IsCheckedAtAccuracyLevelZero()
    {
        // micro-int4 runs at accuracy level 4 (int8 inputs); its float reference holds only at level 0.
        Assert.Equal(4, micro.Pipeline.Manifest.Weights.AccuracyLevel);
        using (var levelZero = Model.ParityCheck.AtAccuracyLevelZero(micro.Dir, micro.Pipeline.Manifest))
            Assert.NotNull(levelZero);
        using (var none = Model.ParityCheck.AtAccuracyLevelZero(SpeculativeTestSupport.ModelDir("micro"), Model.ManifestReader.Load(SpeculativeTestSupport.ModelDir("micro"))))
            Assert.Null(none);
        var (results, tolerance) = Model.ParityCheck.Run(micro.Dir);
        Assert.Contains(results, r => r.Graph == "transformer");
        Assert.All(results, r => Assert.True(r.MaxAbsDiff <= tolerance, $"{r.Graph}.{r.Output} case {r.Case}: {r.MaxAbsDiff:G3} > {tolerance}"));
    }

    [Fact]
    public void Ar_MatchesExactArDistribution() =>
        AssertMatches(new GenerationOptions { Decoding = new ArOptions() }, Samples / 2, 41_000_000);

    [Fact]
    public void Sjd_MatchesExactArDistribution() =>
        AssertMatches(new GenerationOptions { Decoding = new SjdOptions { DraftInit = DraftInitialization.Random } }, Samples, 42_000_000);

    [Fact]
    public void SjdPlusPlusCoupled_MatchesExactArDistribution() =>
        AssertMatches(new GenerationOptions { Decoding = new SjdPlusPlusOptions { Reuse = DraftReuse.Coupled, DraftInit = DraftInitialization.Random } }, Samples, 43_000_000);

    [Fact]
    public void Pac_MatchesExactArDistribution() =>
        AssertMatches(new GenerationOptions { Decoding = new PacOptions { DraftInit = DraftInitialization.Random, TreeWidth = 3, TreeDepth = 2 } }, Samples, 44_000_000);

    [Fact]
    public void BrokenVerifier_FailsTheSameTest()
    {
        var (stat, df, limit) = ChiSquare(new GenerationOptions { Decoding = new SjdOptions { DraftInit = DraftInitialization.Random, AcceptEveryDraft = true } }, Samples / 5, 45_000_000);
        Assert.True(stat > limit, $"a verifier that accepts every draft passed the exactness test (chi-square {stat:F1}, df {df}, limit {limit:F1})");
    }

    private void AssertMatches(GenerationOptions options, int samples, ulong seed)
    {
        var (stat, df, limit) = ChiSquare(options, samples, seed);
        Assert.True(stat <= limit, $"{options.Method} on {QuantizedMicroFixture.Model}: chi-square {stat:F1} with df {df} exceeds the 1e-4 limit {limit:F1}");
    }

    private (double Stat, int Df, double Limit) ChiSquare(GenerationOptions options, int samples, ulong seed)
    {
        var clock = Stopwatch.StartNew();
        var (stat, df, limit, counts, passes) = SpeculativeTestSupport.ChiSquareTest(micro.Pipeline, SpeculativeMicroFixture.Prompt, options, samples, seed, micro.Exact);
        output.WriteLine($"{QuantizedMicroFixture.Model} {options.Method} (broken {(options.Decoding as SpeculativeOptions)?.AcceptEveryDraft ?? false}): {samples} samples, chi-square {stat:F1}, df {df}, limit {limit:F1}, " +
            $"TV {SpeculativeTestSupport.TotalVariation(counts, micro.Exact):F4}, mean passes {passes:F2}, {clock.Elapsed.TotalSeconds:F1} s");
        return (stat, df, limit);
    }
}
