using Microsoft.ML.OnnxRuntime;
using Sjd2Onnx.Model;
using Sjd2Onnx.Tests.Support;

namespace Sjd2Onnx.Tests;

/// <summary>The image-embedding table that replaces an ONNX Runtime call per pass.</summary>
public sealed class ImageEmbeddingTableTests
{
    [Theory]
    [InlineData("tiny")]
    [InlineData("tiny-eol")]
    [InlineData("families/llamagen")]
    [InlineData("families/janus-pro")]
    [InlineData("families/emu3")]
    public void TableRowsAreTheGraphsOutputBitForBit(string model)
    {
        string dir = TestPaths.Model(model);
        var manifest = ManifestReader.Load(dir);
        using var sessions = ModelSessions.Open(dir, manifest, ExecutionProvider.Cpu, 0);
        int k = manifest.Image.CodebookSize, d = manifest.Transformer.HiddenSize;
        // Every model here is small, and its image embedding a table lookup (Janus-Pro's with its aligner MLP, per code).
        var table = Assert.IsType<ImageEmbeddingTable>(sessions.ImageTable);

        // Codes in an order the table was not built from, repeats included, as one batch of the graph.
        var rng = new Random(3);
        var codes = Enumerable.Range(0, 37).Select(_ => (long)rng.Next(k)).ToArray();
        var expected = new float[codes.Length * d];
        using (var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, codes.AsMemory(), [1, codes.Length]))
        using (var output = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, expected.AsMemory(), [1, codes.Length, d]))
        using (var runOptions = new RunOptions())
            sessions.ImageEmbedding.Run(runOptions, ["image_codes"], [input], ["inputs_embeds"], [output]);
        var actual = new float[codes.Length * d];
        table.Lookup(codes, actual);
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void NoTableForAnEmbeddingThatMixesPositions()
    {
        // A lookup followed by a running sum along the sequence (tests/data/mixing-embedding/make.py):
        // each code's row depends on the codes before it, so a table would change the model.
        using var session = new InferenceSession(Path.Combine(TestPaths.RepoRoot, "tests", "data", "mixing-embedding", "mixing_embedding.onnx"));
        Assert.Null(ImageEmbeddingTable.TryBuild(session, 8, 4));
        // With a single code there is nothing to mix, and the same graph is accepted: the check decides, not the graph's shape.
        Assert.NotNull(ImageEmbeddingTable.TryBuild(session, 1, 4));
    }

    [Fact]
    public void NoTableBeyondTheSizeLimit()
    {
        string dir = TestPaths.Model("tiny");
        var manifest = ManifestReader.Load(dir);
        using var sessions = ModelSessions.Open(dir, manifest, ExecutionProvider.Cpu, 0);
        // 2^20 codes × 64 floats = 256 MB: refused before the graph runs (which would fail on codes past its table).
        Assert.Null(ImageEmbeddingTable.TryBuild(sessions.ImageEmbedding, 1 << 20, 64));
    }
}
