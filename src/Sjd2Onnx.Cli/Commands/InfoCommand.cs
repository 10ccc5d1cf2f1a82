namespace Sjd2Onnx.Cli.Commands;

/// <summary><c>sjd2 info</c>: model summary and which execution providers really load here.</summary>
internal static class InfoCommand
{
    public static int Run(CommandLine cl)
    {
        using var pipeline = CommonOptions.OpenModel(cl);
        cl.RejectUnknown("info");
        var m = pipeline.Manifest;
        Console.WriteLine($"model        {m.Name} ({Path.GetFullPath(pipeline.ModelDirectory)})");
        if (m.Description.Length > 0) Console.WriteLine($"description  {m.Description}");
        Console.WriteLine($"transformer  hidden {m.Transformer.HiddenSize}, {m.Transformer.NumLayers} layers, {m.Transformer.NumKvHeads} KV heads × {m.Transformer.HeadDim}, max {m.Transformer.MaxSequenceLength} positions");
        Console.WriteLine($"image        {m.Image.GridHeight}×{m.Image.GridWidth} codes of {m.Image.CodebookSize} → {m.Image.Width}×{m.Image.Height} px{(m.Sequence.EndOfLineId is null ? "" : ", end-of-line token per row")}");
        Console.WriteLine($"tokenizer    {m.Tokenizer.Type}, at most {m.Tokenizer.MaxPromptTokens} prompt tokens");
        Console.WriteLine($"cfg          {m.Cfg.Unconditional}; defaults: cfg {m.Sampling.CfgScale}, temperature {m.Sampling.Temperature}, top-k {m.Sampling.TopK}, top-p {m.Sampling.TopP}");
        Console.WriteLine($"sjd2         {(m.Sjd2 is null ? "no (not trained for next-clean-token prediction)" : $"yes: {m.Sjd2.Schedule} schedule, {m.Sjd2.Steps} steps, sigma {m.Sjd2.SigmaMin}..{m.Sjd2.SigmaMax}")}");
        Console.WriteLine($"running on   {CommonOptions.ProviderName(pipeline.Provider)}");
        Console.WriteLine($"onnxruntime  {Model.OnnxRuntimeEnvironment.ManagedVersion()}, lists {string.Join(", ", Model.SessionFactory.AvailableProviders())}");
        // Listed is not loadable: the CUDA provider is listed even when CUDA's libraries are missing.
        var probe = new PipelineOptions { DeviceId = cl.Int("device-id", 0, 64) ?? 0 };
        string label = "providers";
        foreach (var provider in Enum.GetValues<ExecutionProvider>())
        {
            var result = Model.SessionFactory.Probe(provider, probe);
            string name = CommonOptions.ProviderName(provider);
            Console.WriteLine($"{label,-12} {name,-5} {(result.Loads ? "loads and runs" : $"unavailable: {result.Reason}")}");
            label = "";
        }
        return 0;
    }
}
