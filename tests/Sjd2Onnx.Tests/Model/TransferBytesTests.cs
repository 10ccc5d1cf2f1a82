using Microsoft.ML.OnnxRuntime;
using Sjd2Onnx.Model;
using Sjd2Onnx.Tests.Support;

namespace Sjd2Onnx.Tests;

/// <summary>
/// Per-pass host transfer counts of <see cref="Transformer"/>. A contract-2 graph keeps the KV
/// cache in the provider's memory: what a pass binds from the host (embeddings, positions, a few
/// integers, the last commit's indices) and reads back (logits) does not grow with the cached
/// length, across stride moves, and no KV byte crosses. A contract-1 graph moves the whole past in
/// and the whole present out: one KV row more each way per cached token.
/// </summary>
public class TransferBytesTests
{
    [Theory]
    [InlineData("tiny", true)]
    [InlineData("tiny-eol", true)]
    [InlineData("families/janus-pro", false)]
    public void TransfersPerPassAreConstantInTheCachedLengthOnlyForContract2(string model, bool contract2)
    {
        var m = LoadedModel.Get(model);
        var t = m.Manifest.Transformer;
        int batch = 2, passes = 14;
        long kvRow = 2L * t.NumLayers * batch * t.NumKvHeads * t.HeadDim * sizeof(float);
        using var runner = new Transformer(m.Sessions, m.Manifest, batch, passes + 4, 4, strideStep: 4);
        using var ro = new RunOptions();
        var embeds = new float[batch * m.Hidden];
        var bound = new List<long>();
        var readBack = new List<long>();
        for (int p = 0; p < passes; p++)
        {
            runner.Run(embeds, 1, default, ro);
            bound.Add(runner.LastBoundBytes);
            readBack.Add(runner.LastReadBackBytes);
            Assert.Equal(contract2 ? 0 : kvRow * (2 * p + 1), runner.LastKvBytes);
            runner.Commit(1);
        }
        // Pass 0 has no commit before it; from pass 1 on every pass follows a commit of one row.
        for (int p = 2; p < passes; p++)
        {
            Assert.Equal(contract2 ? 0 : kvRow + batch * sizeof(long), bound[p] - bound[p - 1]); // contract 1: the mask grows too
            Assert.Equal(contract2 ? 0 : kvRow, readBack[p] - readBack[p - 1]);
        }
    }
}
