using Sjd2Onnx.Tests.Support;
using Xunit.Abstractions;

namespace Sjd2Onnx.Tests;

/// <summary>
/// The speculative hot loops allocate nothing per pass themselves: the bytes allocated between two
/// progress reports (one decoder iteration) stay within a small margin of AR's, whose per-pass
/// allocations are ONNX Runtime's own objects and the progress record.
/// </summary>
public sealed class SpeculativeAllocationTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(DecodingMethod.Sjd)]
    [InlineData(DecodingMethod.SjdPlusPlus)]
    [InlineData(DecodingMethod.Sjd2)]
    public void PerIterationAllocations_MatchAr(DecodingMethod method)
    {
        using var pipeline = Sjd2Pipeline.Load(SpeculativeTestSupport.ModelDir("tiny"));
        double ar = BytesPerIteration(pipeline, new GenerationOptions { Decoding = new ArOptions() });
        double spec = BytesPerIteration(pipeline, new GenerationOptions { Decoding = TestDecoding.For(method, Window: 8) });
        output.WriteLine($"median bytes per iteration: AR {ar:F0}, {method} {spec:F0}");
        Assert.True(spec <= ar + 1024, $"{method} allocates {spec:F0} bytes per iteration, AR {ar:F0}");
    }

    private static double BytesPerIteration(Sjd2Pipeline pipeline, GenerationOptions options)
    {
        for (int i = 0; i < 3; i++) pipeline.GenerateCodes("a red circle", options with { Seed = (ulong)i }); // JIT, pools
        var deltas = new List<long>();
        for (int i = 0; i < 10; i++)
        {
            long last = -1;
            // Reports come synchronously on the decoding thread after each iteration.
            pipeline.GenerateCodes("a red circle", options with { Seed = 100 + (ulong)i }, _ =>
            {
                long now = GC.GetAllocatedBytesForCurrentThread();
                if (last >= 0) deltas.Add(now - last);
                last = GC.GetAllocatedBytesForCurrentThread();
            });
        }
        deltas.Sort();
        return deltas[deltas.Count / 2];
    }
}
