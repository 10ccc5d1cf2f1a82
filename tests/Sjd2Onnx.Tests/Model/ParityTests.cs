using System.Text.Json.Nodes;
using Sjd2Onnx.Model;
using Sjd2Onnx.Tests.Support;

namespace Sjd2Onnx.Tests;

/// <summary>ONNX Runtime outputs against the PyTorch reference cases the exporter wrote (parity.json).</summary>
public class ParityTests
{
    [Theory]
    [InlineData("tiny")]
    [InlineData("tiny-eol")]
    [InlineData("micro")]
    public void OnnxMatchesPyTorchReference(string model)
    {
        var (results, tolerance) = ParityCheck.Run(TestPaths.Model(model));
        Assert.InRange(tolerance, 1e-7, 1e-3);
        // Every graph is covered, the transformer by its logits and its KV outputs.
        Assert.Contains(results, r => r.Graph == "text_embedding");
        Assert.Contains(results, r => r.Graph == "image_embedding");
        Assert.Contains(results, r => r.Graph == "vq_decoder");
        Assert.Contains(results, r => r.Graph == "transformer" && r.Output == "logits");
        Assert.Contains(results, r => r.Graph == "transformer" && (r.Output.StartsWith("present.") || r.Output.StartsWith("new_key_values.")));
        Assert.All(results, r => Assert.True(r.MaxAbsDiff <= tolerance, $"case {r.Case} {r.Graph}.{r.Output}: {r.MaxAbsDiff:E2} > {tolerance:E0}"));
    }

    [Theory]
    [InlineData("tiny", "transformer", "logits")]
    [InlineData("tiny-eol", "transformer", "new_key_values.1.value")]
    [InlineData("micro", "vq_decoder", "image")]
    [InlineData("micro", "text_embedding", "inputs_embeds")]
    public void CorruptedReferenceFails(string model, string graph, string output)
    {
        using var temp = new TempDir();
        string dir = temp.CopyModel(model);
        string path = Path.Combine(dir, "parity.json");
        var root = JsonNode.Parse(File.ReadAllText(path))!;
        var cases = root["cases"]!.AsArray();
        int index = cases.Select((c, i) => (c, i)).Last(x => (string)x.c!["graph"]! == graph).i;
        var data = cases[index]!["outputs"]![output]!["data"]!.AsArray();
        int at = data.Count / 2;
        data[at] = (double)data[at]! + 0.01; // one value, well above the tolerance
        File.WriteAllText(path, root.ToJsonString());

        var (results, tolerance) = ParityCheck.Run(dir);
        var bad = results.Where(r => r.MaxAbsDiff > tolerance).ToList();
        var only = Assert.Single(bad);
        Assert.Equal(index, only.Case);
        Assert.Equal(graph, only.Graph);
        Assert.Equal(output, only.Output);
        Assert.InRange(only.MaxAbsDiff, 0.005, 0.015);

        // The CLI reports it with a non-zero exit code.
        var cli = Sjd2Cli.Run("parity", "--model", dir);
        Assert.True(cli.ExitCode != 0, cli.ToString());
        Assert.Contains("FAILED", cli.Stdout);
    }

    [Fact]
    public void CliParityPassesOnTheCommittedModel()
    {
        var cli = Sjd2Cli.Run("parity", "--model", TestPaths.Model("tiny"));
        Assert.True(cli.ExitCode == 0, cli.ToString());
        Assert.Contains("parity ok", cli.Stdout);
    }
}
