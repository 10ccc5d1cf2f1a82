using Sjd2Onnx.Tests.Support;

namespace Sjd2Onnx.Tests;

/// <summary>
/// Sampling on the provider: CFG, temperature and top-k in a graph after each pass, only the top k
/// values and codes read back. The codes, pass counts and pixels must be the host sampler's, bit for
/// bit, on both of its top-k paths (the fused one up to 64 codes, the large one beyond), and a pass
/// must read back 8 bytes per kept code instead of every logit.
/// </summary>
[Trait("Category", "DevicePath")]
public sealed class DeviceSamplingTests
{
    private const string Prompt = "a red circle above a blue square";
    private static readonly Dictionary<(string Model, bool OnDevice, bool Emulated), Sjd2Pipeline> Pipelines = [];

    private static Sjd2Pipeline Pipeline(string model, bool onDevice, bool emulated = false)
    {
        lock (Pipelines)
        {
            if (!Pipelines.TryGetValue((model, onDevice, emulated), out var pipeline))
            {
                string dir = model == "default" ? Path.Combine(TestPaths.RepoRoot, "onnx") : TestPaths.Model(model);
                Pipelines[(model, onDevice, emulated)] = pipeline =
                    Sjd2Pipeline.Load(dir, new PipelineOptions { SampleOnDevice = onDevice, EmulateDeviceTransfers = emulated });
            }
            return pipeline;
        }
    }

    [Theory]
    [InlineData("default", DecodingMethod.Ar, 8, 1f, 1f)]          // the default model's own sampling
    [InlineData("default", DecodingMethod.SjdPlusPlus, 8, 3f, 1.5f)]
    [InlineData("default", DecodingMethod.Pac, 64, 3f, 0.7f)]       // the fused path's largest k
    [InlineData("default", DecodingMethod.Sjd2, 200, 3f, 1f)]      // the large path
    [InlineData("default", DecodingMethod.Sjd, 300, 1f, 2f)]
    [InlineData("tiny", DecodingMethod.Sjd2, 16, 3f, 1f)]
    [InlineData("tiny", DecodingMethod.SjdPlusPlus, 63, 3f, 3f)]
    public async Task TopKOnTheProviderSamplesAsTheHost(string model, DecodingMethod method, int topK, float cfg, float temperature)
    {
        var options = new GenerationOptions { Seed = 17, Sampling = new() { TopK = topK, CfgScale = cfg, Temperature = temperature, TopP = 1 }, Decoding = MethodOptions.For(method) };
        var host = await Pipeline(model, onDevice: false).GenerateAsync(Prompt, options);
        var device = await Pipeline(model, onDevice: true).GenerateAsync(Prompt, options);
        DevicePathTests.AssertSame(host, device);
        var emulated = await Pipeline(model, onDevice: true, emulated: true).GenerateAsync(Prompt, options);
        DevicePathTests.AssertSame(host, emulated);

        // The same positions read back (the prompt's pass included): every logit of every row on the
        // host, 4-byte values and codes of the top k on the provider.
        int batch = cfg == 1f ? 1 : 2;
        int codebook = Pipeline(model, false).Manifest.Image.CodebookSize;
        long positions = host.Statistics.ReadBackBytes / (batch * codebook * 4L);
        Assert.Equal(0, host.Statistics.ReadBackBytes % (batch * codebook * 4L));
        Assert.True(positions > device.Statistics.FedPerPass.Sum());
        Assert.Equal(positions * topK * 8, device.Statistics.ReadBackBytes);
    }

    [Fact]
    public async Task TopPOrNoTopKKeepsTheHostSampler()
    {
        foreach (var options in new[] { new GenerationOptions { Seed = 3, Sampling = new() { TopK = 8, TopP = 0.9f } }, new GenerationOptions { Seed = 3, Sampling = new() { TopK = 0 } } })
        {
            var device = await Pipeline("default", onDevice: true).GenerateAsync(Prompt, options);
            var host = await Pipeline("default", onDevice: false).GenerateAsync(Prompt, options);
            DevicePathTests.AssertSame(host, device);
            Assert.Equal(host.Statistics.ReadBackBytes, device.Statistics.ReadBackBytes);   // every logit, as on the host
        }
    }

    [Fact]
    public void TheCpuSamplesOnTheHostUnlessAsked()
    {
        using var pipeline = Sjd2Pipeline.Load(TestPaths.Model("tiny"));
        Assert.Null(pipeline.Sessions.TopKSampler);
        Assert.NotNull(Pipeline("tiny", onDevice: true).Sessions.TopKSampler);
    }
}
