using Xunit.Abstractions;

namespace Sjd2Onnx.Tests;

/// <summary>
/// Speculative decoders on the family test models (tests/models/families): SJD and SJD++ windows over
/// each family's layout (2-D positions from first_image_position, forced end-of-line slots, the
/// families' CFG rows) and SJD2 on a model fine-tuned with finetune-sjd2.
///
/// The decoders live on another branch until it is merged: the methods and their options are looked
/// up by name, and each test reports and returns when this build has no such decoder. (Verified with
/// the sjd branch merged in: all pass.)
/// </summary>
public sealed class FamiliesSjdTests(ITestOutputHelper output)
{
    public static TheoryData<string, string> FamilyMethods()
    {
        var data = new TheoryData<string, string>();
        foreach (var f in new[] { "janus-pro", "llamagen", "lumina-mgpt", "emu3" })
            foreach (var m in new[] { "Sjd", "SjdPlusPlus", "Pac" })
                data.Add(f, m);
        return data;
    }

    private GenerationOptions? Options(string method, ulong seed, int? topK = null, int window = 6, string? kvMode = null)
    {
        if (!Enum.TryParse<DecodingMethod>(method, out var m))
        {
            output.WriteLine($"DecodingMethod.{method} is not in this build; nothing to test yet.");
            return null;
        }
        var settings = new List<KeyValuePair<string, string>> { new("window", window.ToString(System.Globalization.CultureInfo.InvariantCulture)) };
        if (kvMode is not null) settings.Add(new("kv", kvMode));
        return SettingsBinder.Bind(new GenerationOptions { Seed = seed, Sampling = new() { TopK = topK }, Decoding = MethodOptions.For(m) }, settings);
    }

    // With top-k 1 every distribution is one-hot, so a lossless decoder must return exactly the AR image.
    [Theory, MemberData(nameof(FamilyMethods))]
    public async Task GreedySpeculativeDecodingEqualsAr(string family, string method)
    {
        var spec = Options(method, 5, topK: 1);
        if (spec is null) return;
        using var pipeline = Sjd2Pipeline.Load(FamilyModels.Locate(family));
        var ar = await pipeline.GenerateAsync("a red circle", new GenerationOptions { Seed = 5, Sampling = new() { TopK = 1 }, Decoding = new ArOptions() });
        var sp = await pipeline.GenerateAsync("a red circle", spec);
        Assert.Equal(ar.Codes, sp.Codes);
        Assert.True(sp.Statistics.Passes <= ar.Statistics.Passes, $"{family} {method}: {sp.Statistics.Passes} passes vs AR {ar.Statistics.Passes}");
    }

    [Theory, MemberData(nameof(FamilyMethods))]
    public async Task SampledSpeculativeDecodingIsValidAndDeterministic(string family, string method)
    {
        var options = Options(method, 11, window: 8);
        if (options is null) return;
        using var pipeline = Sjd2Pipeline.Load(FamilyModels.Locate(family));
        var a = await pipeline.GenerateAsync("two big dogs", options);
        var b = await pipeline.GenerateAsync("two big dogs", options);
        Assert.Equal(a.Codes, b.Codes);
        Assert.All(a.Codes, c => Assert.InRange(c, 0, pipeline.Manifest.Image.CodebookSize - 1));
        Assert.Equal(pipeline.Manifest.Image.Width, a.Image.Width);
    }

    [Theory]
    [InlineData("Approximate")]
    [InlineData("Exact")]
    public async Task Sjd2RunsOnAFineTunedFamilyModel(string kvMode)
    {
        var options = Options("Sjd2", 2, window: 8, kvMode: kvMode);
        if (options is null) return;
        using var pipeline = Sjd2Pipeline.Load(FamilyModels.Locate("llamagen-sjd2"));
        Assert.NotNull(pipeline.Manifest.Sjd2);
        Assert.Equal(12, pipeline.Manifest.Sequence.FirstImagePosition);
        var a = await pipeline.GenerateAsync("a red circle", options);
        var b = await pipeline.GenerateAsync("a red circle", options);
        Assert.Equal(a.Codes, b.Codes);
        Assert.All(a.Codes, c => Assert.InRange(c, 0, pipeline.Manifest.Image.CodebookSize - 1));
        var ar = await pipeline.GenerateAsync("a red circle", new GenerationOptions { Seed = 2, Decoding = new ArOptions() });
        Assert.True(a.Statistics.Passes <= ar.Statistics.Passes);
    }
}
