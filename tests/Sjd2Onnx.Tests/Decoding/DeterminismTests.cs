using Sjd2Onnx.Imaging;
using Sjd2Onnx.Tests.Support;

namespace Sjd2Onnx.Tests;

/// <summary>The same seed gives the same image, byte for byte; other seeds give other images.</summary>
public class DeterminismTests
{
    private const string Prompt = "a red circle above a blue square";

    [Theory]
    [InlineData("tiny", 0ul)]
    [InlineData("tiny", 12345ul)]
    [InlineData("tiny-eol", 7ul)]
    [InlineData("micro", 3ul)]
    public async Task SameSeedGivesIdenticalPngBytes(string model, ulong seed)
    {
        string dir = TestPaths.Model(model);
        using var first = Sjd2Pipeline.Load(dir);
        using var second = Sjd2Pipeline.Load(dir); // a fresh pipeline must not differ either
        var options = new GenerationOptions { Seed = seed, Decoding = new ArOptions() };
        var a = await first.GenerateAsync(Prompt, options);
        var b = await first.GenerateAsync(Prompt, options);
        var c = await second.GenerateAsync(Prompt, options);
        Assert.Equal(first.Manifest.Image.CodeCount, a.Codes.Length);
        Assert.All(a.Codes, code => Assert.InRange(code, 0, first.Manifest.Image.CodebookSize - 1));
        Assert.Equal(a.Codes, b.Codes);
        Assert.Equal(a.Codes, c.Codes);
        byte[] png = PngFile.Encode(a.Image);
        Assert.Equal(png, PngFile.Encode(b.Image));
        Assert.Equal(png, PngFile.Encode(c.Image));
    }

    [Fact]
    public async Task ConcurrentGenerationsStayDeterministic()
    {
        using var pipeline = Sjd2Pipeline.Load(TestPaths.Model("tiny"));
        var options = new GenerationOptions { Seed = 77, Decoding = new ArOptions() };
        var reference = (await pipeline.GenerateAsync(Prompt, options)).Codes;
        var results = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => pipeline.GenerateAsync(Prompt, options)));
        Assert.All(results, r => Assert.Equal(reference, r.Codes));
    }

    // Seeds checked to give different codes (the engine is deterministic, so this cannot flake).
    [Theory]
    [InlineData("tiny", 1ul, 2ul)]
    [InlineData("tiny", 0ul, 1000ul)]
    [InlineData("tiny-eol", 1ul, 2ul)]
    public async Task DifferentSeedsGiveDifferentCodes(string model, ulong seedA, ulong seedB)
    {
        using var pipeline = Sjd2Pipeline.Load(TestPaths.Model(model));
        var a = await pipeline.GenerateAsync(Prompt, new GenerationOptions { Seed = seedA, Decoding = new ArOptions() });
        var b = await pipeline.GenerateAsync(Prompt, new GenerationOptions { Seed = seedB, Decoding = new ArOptions() });
        Assert.NotEqual(a.Codes, b.Codes);
        Assert.NotEqual(PngFile.Encode(a.Image), PngFile.Encode(b.Image));
    }

    [Fact]
    public async Task SamplingIsNotDegenerate()
    {
        // Across seeds the first code takes several values: sampling really draws from the distribution.
        using var pipeline = Sjd2Pipeline.Load(TestPaths.Model("tiny"));
        var firsts = new HashSet<int>();
        for (ulong seed = 0; seed < 12; seed++)
            firsts.Add((await pipeline.GenerateAsync(Prompt, new GenerationOptions { Seed = seed, Decoding = new ArOptions() })).Codes[0]);
        Assert.True(firsts.Count >= 3, $"12 seeds gave only {firsts.Count} distinct first codes");
    }

    [Fact]
    public async Task GreedySettingsIgnoreTheSeed()
    {
        // top-k 1 leaves one choice per slot: every seed must give the same image.
        using var pipeline = Sjd2Pipeline.Load(TestPaths.Model("tiny-eol"));
        var a = await pipeline.GenerateAsync(Prompt, new GenerationOptions { Seed = 1, Sampling = new() { TopK = 1 }, Decoding = new ArOptions() });
        var b = await pipeline.GenerateAsync(Prompt, new GenerationOptions { Seed = 2, Sampling = new() { TopK = 1 }, Decoding = new ArOptions() });
        Assert.Equal(a.Codes, b.Codes);
    }
}
