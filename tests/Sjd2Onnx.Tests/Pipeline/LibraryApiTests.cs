using Sjd2Onnx.Imaging;
using Sjd2Onnx.Sampling;
using Sjd2Onnx.Tests.Support;

namespace Sjd2Onnx.Tests;

/// <summary>The library's entry points beyond one image: PNG streams and metadata, several images per call, previews as a stream.</summary>
public class LibraryApiTests
{
    private static readonly GenerationOptions Speculative = new() { Seed = 7, Sampling = new() { CfgScale = 2.5f, Temperature = 0.8f, TopK = 5, TopP = 0.9f }, Decoding = new SjdOptions() };

    [Fact]
    public async Task PngMetadataRoundTripsThroughFileAndStream()
    {
        using var pipeline = Sjd2Pipeline.Load(TestPaths.Model("tiny"));
        var result = await pipeline.GenerateAsync("a red circle", Speculative);
        var metadata = PngMetadata.From(result);
        Assert.Equal(new PngMetadata("a red circle", 7, DecodingMethod.Sjd, new SamplingSettings(2.5f, 0.8f, 5, 0.9f), pipeline.Manifest.Name), metadata);

        using var temp = new TempDir();
        PngFile.Save(result.Image, temp.File("a.png"), metadata);
        byte[] file = File.ReadAllBytes(temp.File("a.png"));
        Assert.Equal(metadata, PngMetadata.Read(file));
        using var stream = new MemoryStream();
        PngFile.Write(result.Image, stream, metadata);
        Assert.Equal(file, stream.ToArray());
        stream.Position = 0;
        Assert.Equal(metadata, PngMetadata.Read(stream));
        // The pixels are the same with or without metadata, and a PNG without it reads as none.
        byte[] plain = PngFile.Encode(result.Image);
        Assert.Null(PngMetadata.Read(plain));
        Assert.True(file.Length > plain.Length);
    }

    [Fact]
    public void PngMetadataRoundTripsEveryMethod()
    {
        // The method is written as the command line's word and read back by the same table
        // (a PAC image once read back as no metadata at all).
        var image = new RgbImage(2, 2, new byte[12]);
        foreach (var method in Enum.GetValues<DecodingMethod>())
        {
            var metadata = new PngMetadata("a red circle", 3, method, new SamplingSettings(3, 1, 8, 1), "demo");
            Assert.Equal(metadata, PngMetadata.Read(PngFile.Encode(image, metadata)));
        }
    }

    [Fact]
    public void MethodNamesRoundTripAndAcceptTheirAliases()
    {
        Assert.Equal(Enum.GetValues<DecodingMethod>().Length, DecodingMethodNames.All.Count);
        foreach (var method in Enum.GetValues<DecodingMethod>())
        {
            string name = DecodingMethodNames.ToName(method);
            Assert.Contains(name, DecodingMethodNames.All);
            Assert.True(DecodingMethodNames.TryParse(name, out var back));
            Assert.Equal(method, back);
        }
        foreach (string alias in new[] { " SJD++ ", "sjdpp", "sjdplusplus", "sjd-plus-plus" })
        {
            Assert.True(DecodingMethodNames.TryParse(alias, out var m), alias);
            Assert.Equal(DecodingMethod.SjdPlusPlus, m);
        }
        Assert.False(DecodingMethodNames.TryParse("fast", out _));
        Assert.False(DecodingMethodNames.TryParse(null, out _));
    }

    [Fact]
    public void PngMetadataKeepsTextThatIsNotLatin1AndDefaultsTheModelsSampling()
    {
        var image = new RgbImage(2, 2, new byte[12]);
        var metadata = new PngMetadata("ein Kreis über einem Quadrat — 圆", ulong.MaxValue, DecodingMethod.SjdPlusPlus, new SamplingSettings(1, 1, 0, 1), "demo");
        byte[] png = PngFile.Encode(image, metadata);
        Assert.Equal(metadata, PngMetadata.Read(png));
        Assert.Contains("iTXt"u8.ToArray(), Chunks(png));
        // The summary other generators write, for viewers that show it.
        string parameters = System.Text.Encoding.UTF8.GetString(png);
        Assert.Contains("Method: sjd++, Seed: 18446744073709551615, CFG scale: 1", parameters);
        // A corrupted chunk is not read as metadata.
        png[^20] ^= 0xFF;
        Assert.Null(PngMetadata.Read(png));
    }

    [Fact]
    public async Task GenerateManyGivesEveryPromptTheSameSeeds()
    {
        using var pipeline = Sjd2Pipeline.Load(TestPaths.Model("tiny"));
        string[] prompts = ["a red circle", "a blue square"];
        var results = new List<GenerationResult>();
        await foreach (var r in pipeline.GenerateManyAsync(prompts, Speculative, imagesPerPrompt: 2)) results.Add(r);
        Assert.Equal(["a red circle", "a red circle", "a blue square", "a blue square"], results.Select(r => r.Prompt));
        Assert.Equal([7UL, 8UL, 7UL, 8UL], results.Select(r => r.Options.Seed));
        foreach (var r in results)
        {
            var single = await pipeline.GenerateAsync(r.Prompt, Speculative with { Seed = r.Options.Seed });
            Assert.Equal(single.Codes, r.Codes);
        }
    }

    [Fact]
    public async Task GenerateManyChecksEveryPromptBeforeTheFirstImage()
    {
        using var pipeline = Sjd2Pipeline.Load(TestPaths.Model("tiny"));
        int yielded = 0;
        var e = await Assert.ThrowsAsync<Sjd2Exception>(async () =>
        {
            await foreach (var _ in pipeline.GenerateManyAsync(["a red circle", ""])) yielded++;
        });
        Assert.Equal(0, yielded);
        Assert.Contains("prompt", e.Message);
        await Assert.ThrowsAsync<Sjd2Exception>(async () =>
        {
            await foreach (var _ in pipeline.GenerateManyAsync(["a red circle"], new GenerationOptions { Seed = ulong.MaxValue, Decoding = new ArOptions() }, imagesPerPrompt: 2)) yielded++;
        });
        Assert.Equal(0, yielded);
    }

    [Fact]
    public async Task PreviewsAreSnapshotsTheCallerMayKeep()
    {
        using var pipeline = Sjd2Pipeline.Load(TestPaths.Model("tiny-eol"));
        var updates = new List<GenerationUpdate>();
        var copies = new List<int[]>();
        await foreach (var u in pipeline.GenerateWithPreviewsAsync("a red circle", Speculative))
        {
            updates.Add(u);
            copies.Add((int[])(u.Progress.DraftCodes ?? u.Progress.Codes).Clone()); // what the caller saw at the time
        }
        var final = updates[^1].Result;
        Assert.NotNull(final);
        Assert.All(updates[..^1], u => Assert.Null(u.Result));
        Assert.True(updates.Count >= 3, $"{updates.Count} updates");
        Assert.Equal(final.Statistics.Passes, updates[^1].Progress.Pass);
        Assert.Equal(final.Codes, updates[^1].Progress.Codes);
        for (int i = 1; i < updates.Count - 1; i++) Assert.True(updates[i].Progress.Pass > updates[i - 1].Progress.Pass, $"update {i}");
        Assert.Equal(updates[^2].Progress.Pass, updates[^1].Progress.Pass); // the image after the last pass's preview
        // Kept previews did not change after they were handed out, and the early ones were not yet the image.
        for (int i = 0; i < updates.Count; i++) Assert.Equal(copies[i], updates[i].Progress.DraftCodes ?? updates[i].Progress.Codes);
        Assert.NotEqual(final.Codes, updates[0].Progress.Codes);
        // The same image as without previews.
        Assert.Equal((await pipeline.GenerateAsync("a red circle", Speculative)).Codes, final.Codes);
    }

    [Fact]
    public async Task StoppingToReadPreviewsStopsTheGeneration()
    {
        using var pipeline = Sjd2Pipeline.Load(TestPaths.Model("tiny"));
        await foreach (var u in pipeline.GenerateWithPreviewsAsync("a red circle", new GenerationOptions { Seed = 1, Decoding = new ArOptions() }))
            break;
        // The pipeline is free again: a following generation runs and Dispose does not wait on a stray one.
        var next = await pipeline.GenerateAsync("a red circle", new GenerationOptions { Seed = 1, Decoding = new ArOptions() });
        Assert.Equal(16, next.Codes.Length);
    }

    private static List<byte[]> Chunks(byte[] png)
    {
        var types = new List<byte[]>();
        for (int at = 8; at + 12 <= png.Length;)
        {
            int length = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(at));
            types.Add(png[(at + 4)..(at + 8)]);
            at += 12 + length;
        }
        return types;
    }
}
