using Microsoft.ML.OnnxRuntime;
using Sjd2Onnx.Model;
using Sjd2Onnx.Tests.Support;

namespace Sjd2Onnx.Tests;

/// <summary>
/// Per-pass host transfer counts of <see cref="TransformerRunner"/>: with a contract-2 graph what a
/// pass reads back (logits and the new KV rows) does not grow with the cached length; with a
/// contract-1 graph it grows by one KV row per cached token (the whole present comes back).
/// </summary>
public class TransferBytesTests
{
    [Theory]
    [InlineData("tiny", true)]
    [InlineData("families/janus-pro", false)]
    public void ReadBackPerPassIsConstantInTheCachedLengthOnlyForContract2(string model, bool contract2)
    {
        var m = LoadedModel.Get(model);
        var t = m.Manifest.Transformer;
        int batch = 2, passes = 12;
        long kvRow = 2L * t.NumLayers * batch * t.NumKvHeads * t.HeadDim * sizeof(float);
        using var runner = new TransformerRunner(m.Sessions.Transformer, m.Manifest, batch, passes + 4, 4, strideStep: 4);
        using var ro = new RunOptions();
        var embeds = new float[batch * m.Hidden];
        var readBack = new List<long>();
        for (int p = 0; p < passes; p++)
        {
            runner.Run(embeds, 1, default, ro);
            readBack.Add(runner.LastReadBackBytes);
            Assert.True(runner.LastKvBytes > 0 && runner.LastBoundBytes > 0);
            runner.Commit(1);
        }
        for (int p = 1; p < passes; p++)
            Assert.Equal(contract2 ? 0 : kvRow, readBack[p] - readBack[p - 1]);
    }
}
