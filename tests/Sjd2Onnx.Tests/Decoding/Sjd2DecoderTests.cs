using Sjd2Onnx.Decoding;
using Sjd2Onnx.Model;

namespace Sjd2Onnx.Tests;

/// <summary>SJD2 end to end on the tiny models (random weights with a noise input), and its error on a model without one.</summary>
public sealed class Sjd2DecoderTests
{
    private const string Prompt = "a green star";

    [Theory]
    [InlineData("tiny", Sjd2KvMode.Approximate, 16, null)]
    [InlineData("tiny", Sjd2KvMode.Exact, 16, null)]
    [InlineData("tiny", Sjd2KvMode.Exact, 5, 3)]
    [InlineData("tiny", Sjd2KvMode.Approximate, 40, 1)]
    [InlineData("tiny-eol", Sjd2KvMode.Approximate, 16, null)]
    [InlineData("tiny-eol", Sjd2KvMode.Exact, 7, 20)]
    [InlineData("tiny", Sjd2KvMode.Exact, 16, null, DraftInitialization.Vertical)]
    [InlineData("tiny-eol", Sjd2KvMode.Approximate, 9, 4, DraftInitialization.Horizontal)]
    [InlineData("tiny-eol", Sjd2KvMode.Exact, 16, 1, DraftInitialization.Random)]
    [InlineData("tiny", Sjd2KvMode.Limit, 16, null, DraftInitialization.Noise, Sjd2Schedule.Window)]
    [InlineData("tiny-eol", Sjd2KvMode.Limit, 9, 3, DraftInitialization.Vertical, Sjd2Schedule.Window)]
    [InlineData("tiny-eol", Sjd2KvMode.Exact, 40, null, DraftInitialization.Noise, Sjd2Schedule.PerPass)]
    [InlineData("tiny", Sjd2KvMode.Approximate, 3, 30, DraftInitialization.Horizontal, Sjd2Schedule.Window)]
    public async Task RunsEndToEnd(string model, Sjd2KvMode kv, int window, int? steps, DraftInitialization? prior = null, Sjd2Schedule? schedule = null)
    {
        using var pipeline = Sjd2Pipeline.Load(SpeculativeTestSupport.ModelDir(model));
        var img = pipeline.Manifest.Image;
        int slots = img.GridHeight * (img.GridWidth + (pipeline.Manifest.Sequence.EndOfLineId is null ? 0 : 1));
        for (ulong seed = 0; seed < 4; seed++)
        {
            var result = await pipeline.GenerateAsync(Prompt, new GenerationOptions
            { Seed = seed, Decoding = new Sjd2Options { KvMode = kv, Window = window, DenoiseSteps = steps, DraftInit = prior ?? DraftInitialization.Vertical, Schedule = schedule ?? Sjd2Schedule.Window } });
            Assert.Equal(img.CodeCount, result.Codes.Length);
            Assert.All(result.Codes, c => Assert.InRange(c, 0, img.CodebookSize - 1));
            Assert.Equal(img.Width * img.Height * 3, result.Image.Pixels.Length);
            int lastCodeSlot = slots - (pipeline.Manifest.Sequence.EndOfLineId is null ? 1 : 2);
            Assert.Equal(lastCodeSlot + 1, result.Statistics.CommittedPerPass.Sum());
            Assert.InRange(result.Statistics.Passes, 1, lastCodeSlot + 1); // never more passes than AR
        }
    }

    [Fact]
    public void WindowRamp_IsCleanAtTheFrontAndRisesToSigmaMax()
    {
        var spec = new Sjd2Spec("karras", 20, 0.02f, 1f, 7f, [], []);
        var ramp = new WindowRamp(spec, levels: null);
        int span = WindowRamp.MinimumSpan;
        Assert.Equal(0f, ramp.Sigma(1, span));
        Assert.Equal(0.02f, ramp.Sigma(2, span), 5);
        Assert.Equal(1f, ramp.Sigma(span, span), 5);
        for (int i = 2; i < span; i++) Assert.True(ramp.Sigma(i + 1, span) > ramp.Sigma(i, span), $"rises at position {i}");
        // One level per noisy position: position i is level span − i of a (span − 1)-level grid.
        var grid = (spec with { Steps = span - 1 }).SigmaGrid();
        for (int i = 2; i <= span; i++) Assert.Equal(grid[span - i], ramp.Sigma(i, span));
        // A narrower window feeds the same levels by position: only the ramp's low-noise start.
        for (int i = 1; i <= 15; i++) Assert.Equal(ramp.Sigma(i, span), ramp.Sigma(i, 15));
        Assert.True(ramp.Sigma(15, 15) < 0.1f);
        // A wider one stretches the ramp to its own end.
        Assert.Equal(1f, ramp.Sigma(100, 100), 5);
        Assert.Equal((spec with { Steps = 99 }).SigmaGrid()[100 - 51], ramp.Sigma(51, 100));
        // A fixed level count spreads the same ends over the ramp; a single draft is fed clean.
        var four = new WindowRamp(spec, levels: 4);
        Assert.Equal(0.02f, four.Sigma(2, 100), 5);
        Assert.Equal(1f, four.Sigma(100, 100), 5);
        Assert.Equal(4, Enumerable.Range(2, 99).Select(i => four.Sigma(i, 100)).Distinct().Count());
        Assert.Equal(0f, ramp.Sigma(1, 1));
    }

    [Theory]
    [InlineData(Sjd2Schedule.Window)]
    [InlineData(Sjd2Schedule.PerPass)]
    public void TopK1_GivesArsCodes(Sjd2Schedule schedule)
    {
        // Greedy sampling leaves nothing random: whatever SJD2 feeds, verification against
        // the clean-context outputs must end on AR's codes when noise never reaches them.
        using var pipeline = Sjd2Pipeline.Load(SpeculativeTestSupport.ModelDir("tiny-eol"));
        var ar = pipeline.GenerateCodes(Prompt, new GenerationOptions { Sampling = new() { TopK = 1 }, Decoding = new ArOptions() }).Codes;
        var sjd2 = pipeline.GenerateCodes(Prompt, new GenerationOptions
        { Sampling = new() { TopK = 1 }, Decoding = new Sjd2Options { AcceptNoise = 0f, KvMode = Sjd2KvMode.Exact, Schedule = schedule } }).Codes;
        Assert.Equal(ar, sjd2);
    }

    [Theory]
    [InlineData(0.3f, Sjd2KvMode.Exact, "applies to the limit KV mode")]
    [InlineData(1.5f, Sjd2KvMode.Limit, "kv noise limit must be in [0, 1]")]
    public void KvNoiseLimit_IsValidated(float limit, Sjd2KvMode mode, string message)
    {
        using var pipeline = Sjd2Pipeline.Load(SpeculativeTestSupport.ModelDir("tiny"));
        var e = Assert.Throws<Sjd2Exception>(() => pipeline.GenerateCodes(Prompt, new GenerationOptions { Decoding = new Sjd2Options { KvMode = mode, KvNoiseLimit = limit } }));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void CoupledRedrafts_KeepMoreDraftsThanFreshSamples()
    {
        // Hot sampling makes fresh samples disagree with the old drafts; the coupled rule keeps an
        // old draft whenever the new distribution allows, so fewer drafts change between passes and
        // the images take fewer passes in all. "None" must be the published fresh sampling.
        using var pipeline = Sjd2Pipeline.Load(SpeculativeTestSupport.ModelDir("tiny"));
        int coupled = 0, fresh = 0;
        for (ulong seed = 0; seed < 24; seed++)
        {
            var options = new GenerationOptions { Seed = seed, Sampling = new() { Temperature = 3f, TopK = 0 }, Decoding = new Sjd2Options() };
            var a = pipeline.GenerateCodes(Prompt, options with { Decoding = new Sjd2Options { Reuse = DraftReuse.Coupled } });
            var b = pipeline.GenerateCodes(Prompt, options with { Decoding = new Sjd2Options { Reuse = DraftReuse.None } });
            Assert.Equal(16, a.Statistics.CommittedPerPass.Sum());
            Assert.Equal(16, b.Statistics.CommittedPerPass.Sum());
            coupled += a.Statistics.Passes;
            fresh += b.Statistics.Passes;
        }
        Assert.True(coupled < fresh, $"coupled re-drafting took {coupled} passes over 24 images, fresh samples {fresh}");
    }

    [Fact]
    public void NoiseInitialisation_IsSjd2Only()
    {
        using var pipeline = Sjd2Pipeline.Load(SpeculativeTestSupport.ModelDir("tiny"));
        var e = Assert.Throws<Sjd2Exception>(() => pipeline.GenerateCodes(Prompt, new GenerationOptions { Decoding = new SjdOptions { DraftInit = DraftInitialization.Noise } }));
        Assert.Contains("init noise applies to method sjd2", e.Message);
    }

    [Fact]
    public void AutoWindow_Runs()
    {
        using var pipeline = Sjd2Pipeline.Load(SpeculativeTestSupport.ModelDir("tiny"));
        for (ulong seed = 0; seed < 4; seed++)
        {
            var (codes, stats) = pipeline.GenerateCodes(Prompt, new GenerationOptions { Seed = seed, Decoding = new Sjd2Options { AutoWindow = true, KvMode = Sjd2KvMode.Exact } });
            Assert.Equal(16, codes.Length);
            Assert.Equal(16, stats.CommittedPerPass.Sum());
        }
    }

    [Fact]
    public async Task ModelWithoutSjd2Section_IsAClearError()
    {
        using var pipeline = Sjd2Pipeline.Load(SpeculativeTestSupport.ModelDir("micro"));
        var e = await Assert.ThrowsAsync<Sjd2Exception>(() => pipeline.GenerateAsync(Prompt, new GenerationOptions { Decoding = new Sjd2Options() }));
        Assert.Contains("model micro is not trained for SJD2", e.Message);
        Assert.Contains("use method sjd", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
