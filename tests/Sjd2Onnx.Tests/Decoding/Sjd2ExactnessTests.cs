using Xunit.Abstractions;

namespace Sjd2Onnx.Tests;

/// <summary>
/// SJD2 with accept-noise 0 and exact KV commits only through outputs whose inputs were all clean
/// committed tokens, so it must sample the exact AR distribution: the same chi-square test as
/// <see cref="SpeculativeExactnessTests"/>, on micro-sjd2 (micro's shape, 2×2 codes of 5, with the
/// noise_levels input and an sjd2 section). SJD2 as published is not lossless; its statistic on
/// the same model is only reported.
/// </summary>
public sealed class Sjd2ExactnessTests(ITestOutputHelper output)
{
    private const string Prompt = "a red circle";

    private static readonly Lazy<(string Dir, double[] Exact)> Model = new(() =>
    {
        string dir = SpeculativeTestSupport.ModelDir("micro-sjd2");
        return (dir, SpeculativeTestSupport.ExactDistribution(dir, Prompt));
    });

    [Theory]
    [InlineData(DraftInitialization.Noise, Sjd2Schedule.PerPass, DraftReuse.Coupled, 8_000, 11_000_000UL)]
    [InlineData(DraftInitialization.Vertical, Sjd2Schedule.PerPass, DraftReuse.Coupled, 6_000, 12_000_000UL)]
    [InlineData(DraftInitialization.Noise, Sjd2Schedule.Window, DraftReuse.Coupled, 8_000, 14_000_000UL)]
    [InlineData(DraftInitialization.Vertical, Sjd2Schedule.Window, DraftReuse.Coupled, 6_000, 15_000_000UL)]
    [InlineData(DraftInitialization.Vertical, Sjd2Schedule.Window, DraftReuse.None, 6_000, 17_000_000UL)]
    public void AcceptNoiseZero_MatchesExactArDistribution(DraftInitialization prior, Sjd2Schedule schedule, DraftReuse reuse, int samples, ulong seed)
    {
        var options = new GenerationOptions
        { Decoding = new Sjd2Options { AcceptNoise = 0f, KvMode = Sjd2KvMode.Exact, DraftInit = prior, Schedule = schedule, Reuse = reuse } };
        var (stat, df, limit, passes) = ChiSquare(options, samples, seed);
        output.WriteLine($"sjd2 accept-noise 0, init {prior}, schedule {schedule}, reuse {reuse}: chi-square {stat:F1}, df {df}, limit {limit:F1}, mean passes {passes:F2}");
        Assert.True(stat <= limit, $"chi-square {stat:F1} with df {df} exceeds the 1e-4 limit {limit:F1}");
    }

    [Fact]
    public void AcceptNoiseZero_ReseedingAfterEveryStall_MatchesExactArDistribution()
    {
        var options = new GenerationOptions
        { Decoding = new Sjd2Options { AcceptNoise = 0f, KvMode = Sjd2KvMode.Exact, DraftInit = DraftInitialization.Vertical, ReseedAfterStalls = 1 } };
        var (dir, _) = Model.Value;
        using (var pipeline = Sjd2Pipeline.Load(dir))
            Assert.True(SpeculativeTestSupport.Reseeds(pipeline, Prompt, options, 200, 16_000_000UL) > 20, "re-seeding never fired");
        var (stat, df, limit, passes) = ChiSquare(options, 6_000, 16_000_000UL);
        output.WriteLine($"sjd2 accept-noise 0, vertical, re-seeding after every stall: chi-square {stat:F1}, df {df}, limit {limit:F1}, mean passes {passes:F2}");
        Assert.True(stat <= limit, $"chi-square {stat:F1} with df {df} exceeds the 1e-4 limit {limit:F1}");
    }

    [Fact]
    public void AsPublished_IsReported()
    {
        var published = new GenerationOptions { Decoding = new Sjd2Options { DraftInit = DraftInitialization.Noise, Schedule = Sjd2Schedule.PerPass, Reuse = DraftReuse.None } };
        var (stat, df, limit, passes) = ChiSquare(published, 8_000, 13_000_000UL);
        output.WriteLine($"sjd2 as published: chi-square {stat:F1}, df {df}, limit {limit:F1}, mean passes {passes:F2}");
        Assert.True(passes < 4, $"SJD2 should need fewer passes than AR's 4 on a 2x2 image, got {passes:F2}");
    }

    private static (double Stat, int Df, double Limit, double Passes) ChiSquare(GenerationOptions options, int samples, ulong seed)
    {
        var (dir, exact) = Model.Value;
        using var pipeline = Sjd2Pipeline.Load(dir);
        var (stat, df, limit, _, passes) = SpeculativeTestSupport.ChiSquareTest(pipeline, Prompt, options, samples, seed, exact);
        return (stat, df, limit, passes);
    }
}
