using Sjd2Onnx.Model;
using Sjd2Onnx.Tests.Support;

namespace Sjd2Onnx.Tests;

/// <summary>
/// The device path (KV cache helper graphs, inputs bound through an IO binding) run on the CPU with
/// CUDA's transfer semantics: a bound host input is copied into a buffer of the binding's own when it
/// is bound, so an input that is not bound again after its host array changed is seen stale, as on a
/// GPU. Every generation must give the codes, pass counts and pixels of the host path bit for bit.
/// </summary>
[Trait("Category", "DevicePath")]
public sealed class DevicePathTests
{
    private const string Prompt = "a red circle above a blue square";
    private const string LongPrompt = "a small red circle above a big blue square left of a green triangle";

    private static readonly Dictionary<(string Model, bool Device), Sjd2Pipeline> Pipelines = [];

    // One host and one emulated-device pipeline per model for the whole run (their caches are pooled, as in a server).
    private static Sjd2Pipeline Pipeline(string model, bool device)
    {
        lock (Pipelines)
        {
            if (!Pipelines.TryGetValue((model, device), out var pipeline))
            {
                string dir = model == "default" ? Path.Combine(TestPaths.RepoRoot, "onnx") : TestPaths.Model(model);
                Pipelines[(model, device)] = pipeline = Sjd2Pipeline.Load(dir, new PipelineOptions { EmulateDeviceTransfers = device });
            }
            return pipeline;
        }
    }

    public static TheoryData<string, DecodingMethod, float> EveryMethodWithAndWithoutGuidance()
    {
        var data = new TheoryData<string, DecodingMethod, float>();
        foreach (var method in Enum.GetValues<DecodingMethod>())
            foreach (float cfg in new[] { 1f, 3f })
                data.Add("tiny", method, cfg);
        foreach (var method in Enum.GetValues<DecodingMethod>())
            data.Add("default", method, 1f);
        return data;
    }

    [Theory]
    [MemberData(nameof(EveryMethodWithAndWithoutGuidance))]
    public async Task EveryMethodDecodesAsOnTheHost(string model, DecodingMethod method, float cfg) =>
        await AssertSameAsHost(model, Prompt, new GenerationOptions { Seed = 11, Sampling = new() { CfgScale = cfg }, Decoding = MethodOptions.For(method) });

    [Theory]
    [InlineData(Sjd2KvMode.Exact, 1f)]
    [InlineData(Sjd2KvMode.Exact, 3f)]
    [InlineData(Sjd2KvMode.Approximate, 3f)]
    public async Task Sjd2InBothKvModesDecodesAsOnTheHost(Sjd2KvMode kv, float cfg) =>
        await AssertSameAsHost("tiny", Prompt, new GenerationOptions { Seed = 5, Sampling = new() { CfgScale = cfg }, Decoding = new Sjd2Options { KvMode = kv } });

    [Theory]
    [InlineData("tiny", 3, 2, 3f)]
    [InlineData("tiny", 4, 1, 1f)]
    [InlineData("default", 3, 1, 1f)]
    public async Task PacWithDraftTreesDecodesAsOnTheHost(string model, int width, int depth, float cfg) =>
        await AssertSameAsHost(model, Prompt, new GenerationOptions
        { Seed = 21, Sampling = new() { CfgScale = cfg }, Decoding = new PacOptions { TreeWidth = width, TreeDepth = depth } });

    // Wide windows at a high temperature: most drafts are rejected, so the cache rolls back and the
    // window size changes from pass to pass.
    [Theory]
    [InlineData(DecodingMethod.Sjd)]
    [InlineData(DecodingMethod.SjdPlusPlus)]
    [InlineData(DecodingMethod.Pac)]
    [InlineData(DecodingMethod.Sjd2)]
    public async Task RollbackHeavyDecodingAsOnTheHost(DecodingMethod method) =>
        await AssertSameAsHost("tiny", Prompt, new GenerationOptions
        { Seed = 8, Sampling = new() { Temperature = 3, TopK = 0, CfgScale = 3 }, Decoding = TestDecoding.For(method, Window: 64) });

    [Theory]
    [InlineData(DecodingMethod.SjdPlusPlus)]
    [InlineData(DecodingMethod.Sjd2)]
    public async Task AutoWindowDecodesAsOnTheHost(DecodingMethod method) =>
        await AssertSameAsHost("tiny", Prompt, new GenerationOptions { Seed = 2, Sampling = new() { CfgScale = 3 }, Decoding = TestDecoding.For(method, AutoWindow: true) });

    [Theory]
    [InlineData("tiny-eol", DecodingMethod.SjdPlusPlus)]
    [InlineData("micro-sjd2", DecodingMethod.Sjd2)]
    [InlineData("micro", DecodingMethod.Pac)]
    public async Task OtherLayoutsDecodeAsOnTheHost(string model, DecodingMethod method) =>
        await AssertSameAsHost(model, "a red circle", new GenerationOptions { Seed = 4, Decoding = MethodOptions.For(method) });

    // A pooled cache keeps its buffers, views and bindings: a shorter prompt after a longer one must
    // see its own padding and its own cache length, not the last generation's.
    [Theory]
    [InlineData(DecodingMethod.Ar)]
    [InlineData(DecodingMethod.SjdPlusPlus)]
    [InlineData(DecodingMethod.Sjd2)]
    public async Task APooledCacheAfterALongerPromptDecodesAsOnTheHost(DecodingMethod method)
    {
        var device = Pipeline("tiny", device: true);
        var options = new GenerationOptions { Seed = 31, Sampling = new() { CfgScale = 3 }, Decoding = MethodOptions.For(method) };
        await device.GenerateAsync(LongPrompt, options);
        var second = await device.GenerateAsync(Prompt, options);
        using var host = Sjd2Pipeline.Load(TestPaths.Model("tiny"));
        AssertSame(await host.GenerateAsync(Prompt, options), second);
    }

    [Fact]
    public async Task ConcurrentGenerationsDecodeAsOnTheHost()
    {
        var options = new GenerationOptions { Sampling = new() { CfgScale = 3 }, Decoding = new SjdPlusPlusOptions() };
        ulong[] seeds = [1, 2, 3, 4];
        var device = Pipeline("tiny", device: true);
        var results = await Task.WhenAll(seeds.Select(seed => Task.Run(() => device.GenerateAsync(Prompt, options with { Seed = seed }))));
        for (int i = 0; i < seeds.Length; i++)
            AssertSame(await Pipeline("tiny", device: false).GenerateAsync(Prompt, options with { Seed = seeds[i] }), results[i]);
    }

    [Fact]
    public void TheEmulatedPipelineRunsTheDevicePath()
    {
        var device = Pipeline("tiny", device: true);
        Assert.Equal(HostInputTransfer.EmulatedCopy, device.Sessions.HostInputs);
        Assert.False(device.Sessions.KvGraphs!.WritesOnHost);   // the helper graphs write the cache, as on CUDA
        var host = Pipeline("tiny", device: false);
        Assert.Equal(HostInputTransfer.ReadInPlace, host.Sessions.HostInputs);
        Assert.True(host.Sessions.KvGraphs!.WritesOnHost);
    }

    private static async Task AssertSameAsHost(string model, string prompt, GenerationOptions options)
    {
        var expected = await Pipeline(model, device: false).GenerateAsync(prompt, options);
        var actual = await Pipeline(model, device: true).GenerateAsync(prompt, options);
        AssertSame(expected, actual);
    }

    internal static void AssertSame(GenerationResult expected, GenerationResult actual)
    {
        Assert.Equal(expected.Codes, actual.Codes);
        Assert.Equal(expected.Statistics.Passes, actual.Statistics.Passes);
        Assert.Equal(expected.Statistics.CommittedPerPass, actual.Statistics.CommittedPerPass);
        Assert.Equal(expected.Statistics.FedPerPass, actual.Statistics.FedPerPass);
        Assert.Equal(expected.Image.Pixels, actual.Image.Pixels);
    }
}
