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
    public async Task RunsEndToEnd(string model, Sjd2KvMode kv, int window, int? steps, DraftInitialization? prior = null)
    {
        using var pipeline = Sjd2Pipeline.Load(SpeculativeTestSupport.ModelDir(model));
        var img = pipeline.Manifest.Image;
        int slots = img.GridHeight * (img.GridWidth + (pipeline.Manifest.Sequence.EndOfLineId is null ? 0 : 1));
        for (ulong seed = 0; seed < 4; seed++)
        {
            var result = await pipeline.GenerateAsync(Prompt, new GenerationOptions
            {
                Method = DecodingMethod.Sjd2,
                KvMode = kv,
                Window = window,
                DenoiseSteps = steps,
                Seed = seed,
                DraftInit = prior,
            });
            Assert.Equal(img.CodeCount, result.Codes.Length);
            Assert.All(result.Codes, c => Assert.InRange(c, 0, img.CodebookSize - 1));
            Assert.Equal(img.Width * img.Height * 3, result.Image.Pixels.Length);
            int lastCodeSlot = slots - (pipeline.Manifest.Sequence.EndOfLineId is null ? 1 : 2);
            Assert.Equal(lastCodeSlot + 1, result.Statistics.CommittedPerPass.Sum());
            Assert.InRange(result.Statistics.Passes, 1, lastCodeSlot + 1); // never more passes than AR
        }
    }

    [Fact]
    public void AutoWindow_Runs()
    {
        using var pipeline = Sjd2Pipeline.Load(SpeculativeTestSupport.ModelDir("tiny"));
        for (ulong seed = 0; seed < 4; seed++)
        {
            var (codes, stats) = pipeline.GenerateCodes(Prompt, new GenerationOptions { Method = DecodingMethod.Sjd2, AutoWindow = true, KvMode = Sjd2KvMode.Exact, Seed = seed });
            Assert.Equal(16, codes.Length);
            Assert.Equal(16, stats.CommittedPerPass.Sum());
        }
    }

    [Fact]
    public async Task ModelWithoutSjd2Section_IsAClearError()
    {
        using var pipeline = Sjd2Pipeline.Load(SpeculativeTestSupport.ModelDir("micro"));
        var e = await Assert.ThrowsAsync<Sjd2Exception>(() => pipeline.GenerateAsync(Prompt, new GenerationOptions { Method = DecodingMethod.Sjd2 }));
        Assert.Contains("model micro is not trained for SJD2", e.Message);
        Assert.Contains("use --method sjd", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
