using System.Diagnostics;
using Sjd2Onnx.Tests.Support;
using Xunit.Abstractions;

namespace Sjd2Onnx.Tests;

/// <summary>
/// Soak test, outside CI: many generations in one process across every method, with the resident
/// set size and the gen-2 collection count sampled. Memory must stay flat and full collections must
/// not grow with the number of images (the pipeline pools its large buffers). Opt-in:
/// <c>SJD2_SOAK=1000 dotnet test --filter SoakTests --logger "console;verbosity=detailed"</c>
/// (SJD2_SOAK_MODEL=DIR for another model folder; default the repository's onnx/ model).
/// Without SJD2_SOAK it returns at once.
/// </summary>
public sealed class SoakTests(ITestOutputHelper output)
{
    [Fact]
    public async Task ManyGenerationsKeepMemoryFlat()
    {
        int images = int.TryParse(Environment.GetEnvironmentVariable("SJD2_SOAK"), out int n) ? n : 0;
        if (images <= 0)
        {
            output.WriteLine("not run: set SJD2_SOAK=1000 to soak");
            return;
        }
        string model = Environment.GetEnvironmentVariable("SJD2_SOAK_MODEL") is { Length: > 0 } m ? m : Path.Combine(TestPaths.RepoRoot, "onnx");
        using var pipeline = Sjd2Pipeline.Load(model);
        DecodingMethod[] methods = pipeline.Manifest.Sjd2 is null
            ? [DecodingMethod.Ar, DecodingMethod.Sjd, DecodingMethod.SjdPlusPlus]
            : [DecodingMethod.Ar, DecodingMethod.Sjd, DecodingMethod.SjdPlusPlus, DecodingMethod.Sjd2];
        string[] prompts = ["a red circle", "a blue square above a green triangle", "a yellow triangle"];

        async Task Generate(int i) => await pipeline.GenerateAsync(prompts[i % prompts.Length],
            new GenerationOptions { Seed = (ulong)i, Decoding = MethodOptions.For(methods[i % methods.Length]) });

        for (int w = 0; w < methods.Length * 2; w++) await Generate(w); // warm-up: sessions, pools, JIT
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var self = Process.GetCurrentProcess();
        var samples = new List<(int Images, long Rss, int Gen2)>();
        void Sample(int done)
        {
            self.Refresh();
            samples.Add((done, self.WorkingSet64, GC.CollectionCount(2)));
        }
        Sample(0);
        var clock = Stopwatch.StartNew();
        int every = Math.Max(1, images / 10);
        for (int i = 0; i < images; i++)
        {
            await Generate(1000 + i);
            if ((i + 1) % every == 0) Sample(i + 1);
        }
        foreach (var s in samples)
            output.WriteLine($"{s.Images,6} images: RSS {s.Rss / (1024.0 * 1024):F1} MiB, gen-2 collections {s.Gen2 - samples[0].Gen2}");
        output.WriteLine($"{images} images in {clock.Elapsed.TotalSeconds:F1} s, pooled buffers {pipeline.PooledBufferBytes / 1024} KiB, methods {string.Join(",", methods)}");

        var first = samples[0];
        var last = samples[^1];
        var half = samples[samples.Count / 2];
        int gen2 = last.Gen2 - first.Gen2;
        Assert.True(gen2 <= Math.Max(2, images / 20), $"{gen2} gen-2 collections for {images} images");
        Assert.True(last.Gen2 - half.Gen2 <= half.Gen2 - first.Gen2 + 2, "gen-2 collections grow with the images");
        // Flat: the heap settles during the first half (without full collections it grows to its
        // budget first); over the second half RSS grows by at most 5 % + 16 MiB.
        Assert.True(last.Rss <= half.Rss * 1.05 + 16L * 1024 * 1024, $"RSS grew from {half.Rss >> 20} MiB at {half.Images} images to {last.Rss >> 20} MiB");
    }
}
