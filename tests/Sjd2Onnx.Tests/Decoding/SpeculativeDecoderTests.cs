using Sjd2Onnx.Tests.Support;
using Sjd2Onnx.Decoding;

namespace Sjd2Onnx.Tests;

/// <summary>SJD and SJD++ on the tiny models: forced end-of-line slots, window edges, determinism, greedy equality with AR.</summary>
public sealed class SpeculativeDecoderTests
{
    private const string Prompt = "a red circle above a blue square";

    public static TheoryData<string, DecodingMethod, int, DraftInitialization> GreedyCases()
    {
        var data = new TheoryData<string, DecodingMethod, int, DraftInitialization>();
        foreach (var model in new[] { "tiny", "tiny-eol" })
        {
            data.Add(model, DecodingMethod.Sjd, 16, DraftInitialization.Random);
            data.Add(model, DecodingMethod.Sjd, 2, DraftInitialization.Horizontal);
            data.Add(model, DecodingMethod.Sjd, 5, DraftInitialization.Vertical);
            data.Add(model, DecodingMethod.SjdPlusPlus, 7, DraftInitialization.Random);
            data.Add(model, DecodingMethod.SjdPlusPlus, 64, DraftInitialization.Vertical);
            data.Add(model, DecodingMethod.SjdPlusPlus, 3, DraftInitialization.Horizontal);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(GreedyCases))]
    public void TopK1_GivesArsCodes(string model, DecodingMethod method, int window, DraftInitialization init)
    {
        // With top-k 1 every distribution is one-hot, so a lossless decoder must reproduce AR exactly,
        // forced end-of-line slots inside the window included.
        using var pipeline = Sjd2Pipeline.Load(SpeculativeTestSupport.ModelDir(model));
        for (ulong seed = 0; seed < 3; seed++)
        {
            var ar = pipeline.GenerateCodes(Prompt, new GenerationOptions { Seed = seed, Sampling = new() { TopK = 1 }, Decoding = new ArOptions() });
            var spec = pipeline.GenerateCodes(Prompt, new GenerationOptions { Seed = seed, Sampling = new() { TopK = 1 }, Decoding = TestDecoding.For(method, Window: window, DraftInit: init) });
            Assert.Equal(ar.Codes, spec.Codes);
            Assert.True(spec.Statistics.Passes <= ar.Statistics.Passes);
        }
    }

    [Theory]
    [InlineData(DecodingMethod.Sjd)]
    [InlineData(DecodingMethod.SjdPlusPlus)]
    public async Task ForcedEndOfLineSlots_AreCommittedNotSampled(DecodingMethod method)
    {
        using var pipeline = Sjd2Pipeline.Load(SpeculativeTestSupport.ModelDir("tiny-eol"));
        var layout = new ImageLayout(pipeline.Manifest.Image, pipeline.Manifest.Sequence.EndOfLineId);
        Assert.Equal(12, layout.SlotCount); // 3 rows of 3 codes + end-of-line
        var reports = new List<DecodeProgress>();
        var result = await pipeline.GenerateAsync(Prompt, new GenerationOptions { Seed = 7, Decoding = TestDecoding.For(method, Window: 16) },
            new Recorder(reports));
        Assert.Equal(9, result.Codes.Length);
        Assert.All(result.Codes, c => Assert.InRange(c, 0, 15));
        // Every slot up to the last code is committed exactly once, forced ones included; the final
        // end-of-line slot is never fed (generation stops after the last code).
        Assert.Equal(layout.LastCodeSlot + 1, result.Statistics.CommittedPerPass.Sum());
        Assert.Equal(result.Statistics.Passes, result.Statistics.CommittedPerPass.Count);
        Assert.All(reports, r => Assert.NotNull(r.DraftCodes));
        Assert.Equal(layout.LastCodeSlot + 1, reports[^1].CommittedSlots);
    }

    [Theory]
    [InlineData(null, 9_000_000UL)]
    [InlineData(1, 35_000_000UL)]
    public void ForcedEndOfLine_KeepsTheMarginalExact(int? reseed, ulong seed)
    {
        // The code right after the first end-of-line token (slot 4, code 3) is verified against the
        // output of the forced input. Its marginal under SJD must equal AR's, computed exactly by
        // summing the chain rule over the 16^3 codes before it. Chi-square, df ≤ 15, limit at the
        // 1e-4 tail (false alarm ≈ 1e-4).
        string dir = SpeculativeTestSupport.ModelDir("tiny-eol");
        double[] exact = SpeculativeTestSupport.ExactMarginalAfterFirstRow(dir, Prompt);
        using var pipeline = Sjd2Pipeline.Load(dir);
        var counts = new long[exact.Length];
        const int samples = 4000;
        for (int i = 0; i < samples; i++)
            counts[pipeline.GenerateCodes(Prompt, new GenerationOptions { Seed = seed + (ulong)i, Decoding = new SjdOptions { ReseedAfterStalls = reseed ?? 4 } }).Codes[3]]++;
        var (stat, df) = SpeculativeTestSupport.ChiSquare(counts, exact);
        double limit = SpeculativeTestSupport.ChiSquareQuantile(df, SpeculativeTestSupport.Z);
        Assert.True(stat <= limit, $"chi-square {stat:F1}, df {df}, limit {limit:F1}");
    }

    [Theory]
    [InlineData("tiny", 64)]
    [InlineData("tiny", 15)]
    [InlineData("tiny-eol", 40)]
    public void WindowLargerThanWhatIsLeft_Shrinks(string model, int window)
    {
        using var pipeline = Sjd2Pipeline.Load(SpeculativeTestSupport.ModelDir(model));
        var layout = new ImageLayout(pipeline.Manifest.Image, pipeline.Manifest.Sequence.EndOfLineId);
        foreach (var method in new[] { DecodingMethod.Sjd, DecodingMethod.SjdPlusPlus })
        {
            var (codes, stats) = pipeline.GenerateCodes(Prompt, new GenerationOptions { Seed = 3, Decoding = TestDecoding.For(method, Window: window) });
            Assert.Equal(layout.CodeCount, codes.Length);
            Assert.Equal(layout.LastCodeSlot + 1, stats.CommittedPerPass.Sum());
            Assert.InRange(stats.Passes, 1, layout.LastCodeSlot + 1);
        }
    }

    [Theory]
    [InlineData(DecodingMethod.Ar)]
    [InlineData(DecodingMethod.Sjd)]
    [InlineData(DecodingMethod.SjdPlusPlus)]
    [InlineData(DecodingMethod.Sjd2)]
    public async Task SameSeed_SameCodes(DecodingMethod method)
    {
        foreach (var model in new[] { "tiny", "tiny-eol" })
        {
            using var pipeline = Sjd2Pipeline.Load(SpeculativeTestSupport.ModelDir(model));
            var options = new GenerationOptions { Seed = 42, Decoding = MethodOptions.For(method) };
            var a = await pipeline.GenerateAsync(Prompt, options);
            var b = await pipeline.GenerateAsync(Prompt, options);
            Assert.Equal(a.Codes, b.Codes);
            Assert.Equal(a.Image.Pixels, b.Image.Pixels);
            Assert.Equal(a.Statistics.Passes, b.Statistics.Passes);
            // A different seed gives a different image (16 or 9 codes of 64 or 16: a collision is negligible).
            var c = pipeline.GenerateCodes(Prompt, options with { Seed = 43 });
            Assert.NotEqual(a.Codes, c.Codes);
        }
    }

    [Fact]
    public void AutoWindow_CommitsEverythingWithinTheLimit()
    {
        using var pipeline = Sjd2Pipeline.Load(SpeculativeTestSupport.ModelDir("tiny"));
        for (ulong seed = 0; seed < 6; seed++)
        {
            var (codes, stats) = pipeline.GenerateCodes(Prompt, new GenerationOptions { Seed = seed, Decoding = new SjdOptions { AutoWindow = true, Window = 8 } });
            Assert.Equal(16, codes.Length);
            Assert.Equal(16, stats.CommittedPerPass.Sum());
            Assert.All(stats.CommittedPerPass.Skip(1), c => Assert.InRange(c, 1, 8));
        }
        // Lossless whatever windows it picks: with top-k 1 the codes are AR's.
        var ar = pipeline.GenerateCodes(Prompt, new GenerationOptions { Sampling = new() { TopK = 1 }, Decoding = new ArOptions() });
        var auto = pipeline.GenerateCodes(Prompt, new GenerationOptions { Sampling = new() { TopK = 1 }, Decoding = new SjdPlusPlusOptions { AutoWindow = true } });
        Assert.Equal(ar.Codes, auto.Codes);
    }

    [Theory]
    [InlineData(1, null, null, "window must be at least 2")]
    [InlineData(0, null, null, "window must be at least 2")]
    [InlineData(null, 0f, null, "reuse_threshold must be in (0, 1]")]
    [InlineData(null, 1.5f, null, "reuse_threshold must be in (0, 1]")]
    [InlineData(null, float.NaN, null, "reuse_threshold must be in (0, 1]")]
    [InlineData(null, null, 0, "denoise_steps must be at least 1")]
    public async Task ImpossibleOptions_AreOneLineErrors(int? window, float? tau, int? steps, string message)
    {
        using var pipeline = Sjd2Pipeline.Load(SpeculativeTestSupport.ModelDir("tiny"));
        var options = new GenerationOptions
        {
            Decoding = steps is null ? new SjdPlusPlusOptions { Reuse = DraftReuse.Threshold, Window = window ?? 16, ReuseThreshold = tau } : new Sjd2Options { DenoiseSteps = steps },
        };
        var e = await Assert.ThrowsAsync<Sjd2Exception>(() => pipeline.GenerateAsync(Prompt, options));
        Assert.Contains(message, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Theory]
    [InlineData(DecodingMethod.Sjd2, -0.5f, "accept_noise must be in [0, 1]")]
    [InlineData(DecodingMethod.Sjd2, float.NaN, "accept_noise must be in [0, 1]")]
    [InlineData(DecodingMethod.Sjd, 0f, "accept_noise applies to method sjd2")]
    public async Task ImpossibleAcceptNoise_IsAOneLineError(DecodingMethod method, float limit, string message)
    {
        using var pipeline = Sjd2Pipeline.Load(SpeculativeTestSupport.ModelDir("tiny"));
        var e = await Assert.ThrowsAsync<Sjd2Exception>(() => pipeline.GenerateAsync(Prompt, new GenerationOptions { Decoding = TestDecoding.For(method, AcceptNoise: limit) }));
        Assert.Contains(message, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    private sealed class Recorder(List<DecodeProgress> reports) : IProgress<DecodeProgress>
    {
        public void Report(DecodeProgress value) => reports.Add(value);
    }
}
