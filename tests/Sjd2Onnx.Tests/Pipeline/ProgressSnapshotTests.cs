using Sjd2Onnx.Decoding;
using Sjd2Onnx.Tests.Support;

namespace Sjd2Onnx.Tests;

/// <summary>
/// <see cref="DecodeProgress"/> reports are snapshots: kept by a standard <see cref="Progress{T}"/>
/// (which hands them over later, on another thread) they still show the codes of their own pass.
/// </summary>
public class ProgressSnapshotTests
{
    [Theory]
    [InlineData(DecodingMethod.Ar)]
    [InlineData(DecodingMethod.Sjd)]
    [InlineData(DecodingMethod.SjdPlusPlus)]
    [InlineData(DecodingMethod.Sjd2)]
    public async Task ReportsKeptThroughProgressMatchTheirPass(DecodingMethod method)
    {
        using var pipeline = Sjd2Pipeline.Load(TestPaths.Model("tiny"));
        var atReport = new List<(int Pass, int[] Codes, int[]? Drafts)>();
        var delivered = new List<DecodeProgress>();
        var standard = new Progress<DecodeProgress>(p => { lock (delivered) delivered.Add(p); });
        var recorder = new Recording(p =>
        {
            atReport.Add((p.Pass, (int[])p.Codes.Clone(), (int[]?)p.DraftCodes?.Clone())); // the truth, copied at report time
            ((IProgress<DecodeProgress>)standard).Report(p);
        });
        var result = await pipeline.GenerateAsync("a red circle", new GenerationOptions { Seed = 7, Decoding = MethodOptions.For(method) }, recorder);

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline && Count(delivered) < atReport.Count) await Task.Delay(10);
        Assert.Equal(atReport.Count, Count(delivered));
        Assert.True(atReport.Count > 1, "the test needs several reports");

        var byPass = delivered.OrderBy(p => p.Pass).ThenBy(p => p.CommittedSlots).ToList(); // AR reports its last slot without a new pass
        for (int i = 0; i < byPass.Count; i++)
        {
            var kept = byPass[i];
            var truth = atReport[i];
            Assert.Equal(truth.Pass, kept.Pass);
            Assert.Equal(truth.Codes, kept.Codes);
            Assert.Equal(truth.Drafts, kept.DraftCodes);
            if (i > 0)
            {
                Assert.True(kept.Pass >= byPass[i - 1].Pass, "passes never go back");
                Assert.True(kept.CommittedSlots >= byPass[i - 1].CommittedSlots, "committed slots never shrink");
            }
            // Committed codes are final.
            for (int c = 0; c < Math.Min(kept.CommittedSlots, result.Codes.Length); c++)
                Assert.Equal(result.Codes[c], kept.Codes[c]);
        }
        Assert.Equal(result.Codes, byPass[^1].Codes);
    }

    private static int Count(List<DecodeProgress> list) { lock (list) return list.Count; }

    private sealed class Recording(Action<DecodeProgress> report) : IProgress<DecodeProgress>
    {
        public void Report(DecodeProgress value) => report(value);
    }
}
