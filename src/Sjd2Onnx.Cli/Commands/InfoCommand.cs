using System.CommandLine;
using Sjd2Onnx.Cli.Options;

namespace Sjd2Onnx.Cli.Commands;

/// <summary><c>sjd2 info</c>: model summary and which execution providers really load here.</summary>
internal sealed class InfoCommand
{
    private readonly ModelOptions _model = new();

    /// <summary>The <c>info</c> command.</summary>
    public static Command Create()
    {
        var info = new InfoCommand();
        var command = new Command("info", "Model summary, its sampling defaults, and which execution providers load and run here (and why not).");
        info._model.AddTo(command);
        command.SetAction(info.Run);
        return command;
    }

    private int Run(ParseResult parse)
    {
        using var pipeline = _model.Open(parse);
        var m = pipeline.Manifest;
        Console.WriteLine($"model        {m.Name} ({Path.GetFullPath(pipeline.ModelDirectory)})");
        if (m.Description.Length > 0) Console.WriteLine($"description  {m.Description}");
        Console.WriteLine($"transformer  hidden {m.Transformer.HiddenSize}, {m.Transformer.NumLayers} layers, {m.Transformer.NumKvHeads} KV heads × {m.Transformer.HeadDim}, max {m.Transformer.MaxSequenceLength} positions");
        Console.WriteLine($"image        {m.Image.GridHeight}×{m.Image.GridWidth} codes of {m.Image.CodebookSize} → {m.Image.Width}×{m.Image.Height} px{(m.Sequence.EndOfLineId is null ? "" : ", end-of-line token per row")}");
        Console.WriteLine($"tokenizer    {m.Tokenizer.Type}, at most {m.Tokenizer.MaxPromptTokens} prompt tokens");
        Console.WriteLine($"cfg          {m.Cfg.Unconditional}; defaults: cfg {m.Sampling.CfgScale}, temperature {m.Sampling.Temperature}, top-k {m.Sampling.TopK}, top-p {m.Sampling.TopP}");
        Console.WriteLine($"sjd2         {(m.Sjd2 is null ? "no (not trained for next-clean-token prediction)" : $"yes: {m.Sjd2.Schedule} schedule, {m.Sjd2.Steps} steps, sigma {m.Sjd2.SigmaMin}..{m.Sjd2.SigmaMax}")}");
        Console.WriteLine($"graph        contract {(pipeline.Sessions.ReturnsNewRows ? "2 (returns the new KV rows; the cache stays with the provider)" : "1 (returns past + window; re-export or `export_models.py upgrade` for contract 2)")}, "
            + (pipeline.SupportsTreeAttention ? "tree attention (pac verifies draft trees)" : "no tree attention (pac decodes chains; re-export for trees)"));
        Console.WriteLine($"weights      {m.Weights}");
        Console.WriteLine($"graph bytes  {string.Join(", ", GraphBytes(pipeline.ModelDirectory, m.Graphs))}");
        Console.WriteLine($"running on   {ModelOptions.ProviderName(pipeline.Provider)}");
        Console.WriteLine($"threads      {pipeline.Sessions.Threads}");
        if (pipeline.Provider == ExecutionProvider.Cuda)
            Console.WriteLine($"tf32         {(_model.PipelineOptionsOf(parse).Tf32 ? "on (float32 products in TF32: faster, outside the 1e-4 parity tolerance)" : "off (float32 products in float32; --tf32 on to allow TF32)")}");
        Console.WriteLine($"sampling     {(pipeline.Sessions.TopKSampler is null ? "on the host (every logit read back)" : "top-k on the provider where top-k is set and top-p is not (k values and codes read back per position)")}");
        Console.WriteLine($"host inputs  {(pipeline.Sessions.HostInputs == Model.HostInputTransfer.ReadInPlace ? "read in place by the provider" : "copied to the device and bound again every pass")}");
        Console.WriteLine($"embeddings   image codes {(pipeline.Sessions.ImageTable is null ? "by the image_embedding graph every pass" : "from a table read once from the image_embedding graph")}");
        Console.WriteLine($"onnxruntime  {Model.OnnxRuntimeEnvironment.ManagedVersion()}, lists {string.Join(", ", Model.SessionFactory.AvailableProviders())}");
        // Listed is not loadable: the CUDA provider is listed even when CUDA's libraries are missing.
        var probe = new PipelineOptions { DeviceId = parse.GetValue(_model.DeviceId) ?? 0 };
        string label = "providers";
        foreach (var provider in Enum.GetValues<ExecutionProvider>())
        {
            var result = Model.SessionFactory.Probe(provider, probe);
            Console.WriteLine($"{label,-12} {ModelOptions.ProviderName(provider),-5} {(result.Loads ? "loads and runs" : $"unavailable: {result.Reason}")}");
            label = "";
        }
        return ExitCodes.Success;
    }

    /// <summary>Each graph's file size with its external data file (<c>NAME.data</c>), e.g. <c>transformer 1.2 MB</c>.</summary>
    internal static IEnumerable<string> GraphBytes(string modelDir, Model.GraphFiles graphs)
    {
        foreach (var (key, file) in new[] { ("text_embedding", graphs.TextEmbedding), ("image_embedding", graphs.ImageEmbedding), ("transformer", graphs.Transformer), ("vq_decoder", graphs.VqDecoder) })
        {
            string path = Path.Combine(modelDir, file);
            long bytes = (File.Exists(path) ? new FileInfo(path).Length : 0) + (File.Exists(path + ".data") ? new FileInfo(path + ".data").Length : 0);
            yield return $"{key} {bytes:N0} B";
        }
    }
}
