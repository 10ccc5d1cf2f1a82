using Sjd2Onnx.Model;

namespace Sjd2Onnx.Cli.Commands;

/// <summary>Options shared by the commands that open a model.</summary>
internal static class CommonOptions
{
    public static Sjd2Pipeline OpenModel(CommandLine cl)
    {
        string dir = ModelLocator.Resolve(cl.String("model"));
        var provider = ParseProvider(cl.String("ep") ?? "cpu");
        int device = cl.Int("device-id", 0, 64) ?? 0;
        return Sjd2Pipeline.Load(dir, new PipelineOptions { Provider = provider, DeviceId = device });
    }

    public static ExecutionProvider ParseProvider(string name) => name.Trim().ToLowerInvariant() switch
    {
        "cpu" => ExecutionProvider.Cpu,
        "cuda" => ExecutionProvider.Cuda,
        "dml" or "directml" => ExecutionProvider.DirectML,
        _ => throw new UsageException($"unknown execution provider '{name}'; use --ep cpu, cuda or dml."),
    };

    public static DecodingMethod ParseMethod(string name) => name.Trim().ToLowerInvariant() switch
    {
        "ar" => DecodingMethod.Ar,
        _ => throw new UsageException($"unknown method '{name}'; use --method ar."),
    };

    /// <summary>Reads the sampling and method options into generation options (seed left to the caller).</summary>
    public static GenerationOptions ReadGeneration(CommandLine cl, Sjd2Pipeline pipeline)
    {
        var options = new GenerationOptions
        {
            Method = ParseMethod(cl.String("method") ?? "ar"),
            CfgScale = cl.Float("cfg"),
            Temperature = cl.Float("temperature"),
            TopK = cl.Int("top-k", int.MinValue, int.MaxValue),
            TopP = cl.Float("top-p"),
        };
        if (options.TopK == 0 && cl.String("top-k") is not null)
            throw new UsageException("--top-k 0 keeps no token; pass a positive k, or leave --top-k out to use the model's default.");
        options.ResolveSampling(pipeline.Manifest.Sampling); // validates, one-line errors
        return options;
    }
}
