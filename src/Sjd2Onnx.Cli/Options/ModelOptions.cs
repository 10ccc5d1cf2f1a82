using System.CommandLine;
using System.CommandLine.Parsing;

namespace Sjd2Onnx.Cli.Options;

/// <summary>
/// <c>--model</c>, <c>--ep</c>, <c>--device-id</c>, <c>--threads</c>, <c>--tf32</c>, <c>--sample-on-device</c> and <c>--verbose</c>: which model folder,
/// opened on which execution provider (or the first of a list that loads) with how many threads, with or
/// without ONNX Runtime's log.
/// </summary>
internal sealed class ModelOptions
{
    public Option<string?> Model { get; } = new("--model")
    {
        Description = "Model folder (holding model.json); default: the onnx/ folder above the current one.",
        HelpName = "DIR",
    };

    public Option<string?> Provider { get; } = new("--ep")
    {
        Description = "Execution provider: cpu (default), cuda or dml, or a list tried in order (cuda,cpu: sjd2 says which one it ended on); the build must ship the native package.",
        HelpName = "cpu|cuda|dml[,...]",
        CustomParser = ParseProviderList,
    };

    public Option<int?> DeviceId { get; } = new("--device-id")
    {
        Description = "GPU index for cuda or dml.",
        HelpName = "N",
        CustomParser = ValueParsers.Int("--device-id", 0, 64),
    };

    public Option<int?> Threads { get; } = new("--threads")
    {
        Description = "ONNX Runtime threads per graph; default: by the model's size (the calling thread only for small models, every core for the transformer and VQ decoder of large ones); at most the number of processors.",
        HelpName = "N",
        CustomParser = ValueParsers.Int("--threads", 1, PipelineOptions.MaxThreadsHere, " (the processors this process may use)"),
    };

    public Option<string?> Tf32 { get; } = new("--tf32")
    {
        Description = "cuda: compute float32 matrix products in TF32 (faster, less exact; logits leave the 1e-4 parity tolerance). Default off.",
        HelpName = "on|off",
        CustomParser = ValueParsers.OneOf("--tf32", "on or off", "on", "off"),
    };

    public Option<string?> SampleOnDevice { get; } = new("--sample-on-device")
    {
        Description = "CFG, temperature and top-k on the execution provider, only the top k read back per position (with top-k and no top-p). Default: on for cuda, off for cpu.",
        HelpName = "on|off",
        CustomParser = ValueParsers.OneOf("--sample-on-device", "on or off", "on", "off"),
    };

    public Option<bool> Verbose { get; } = SharedOptions.Switch("--verbose",
        "ONNX Runtime's own log (info level and above) on stderr; without it ONNX Runtime prints nothing.");

    public ModelOptions()
    {
        Provider.CompletionSources.Add("cpu", "cuda", "dml", "cuda,cpu", "dml,cpu");
    }

    /// <summary>
    /// Adds the options; <paramref name="withDevice"/> false leaves <c>--device-id</c>, <c>--threads</c> and <c>--verbose</c>
    /// out (commands that pick no GPU and open no pipeline).
    /// </summary>
    public void AddTo(Command command, bool withDevice = true)
    {
        command.Options.Add(Model);
        command.Options.Add(Provider);
        if (!withDevice) return;
        command.Options.Add(DeviceId);
        command.Options.Add(Threads);
        command.Options.Add(Tf32);
        command.Options.Add(SampleOnDevice);
        command.Options.Add(Verbose);
    }

    /// <summary>The model folder: <c>--model</c> (which must be a folder) or the repository's onnx/ folder.</summary>
    public string Folder(ParseResult parse) => ModelLocator.Resolve(parse.GetValue(Model));

    /// <summary>The providers named by <c>--ep</c>, in order (cpu when it is not given).</summary>
    public IReadOnlyList<ExecutionProvider> ProvidersOf(ParseResult parse) =>
        [.. (parse.GetValue(Provider) ?? "cpu").Split(',').Select(ToProvider)];

    /// <summary>The single provider of a command that takes no fallback list (parity).</summary>
    public ExecutionProvider ProviderOf(ParseResult parse)
    {
        var providers = ProvidersOf(parse);
        if (providers.Count > 1)
            throw new UsageException("this command runs on one execution provider; pass --ep cpu, cuda or dml, not a list.");
        return providers[0];
    }

    /// <summary>The provider's name on the command line.</summary>
    public static string ProviderName(ExecutionProvider provider) => provider switch
    {
        ExecutionProvider.Cuda => "cuda",
        ExecutionProvider.DirectML => "dml",
        _ => "cpu",
    };

    /// <summary>
    /// Opens the model; a broken model or no loadable provider is a run-time failure
    /// (<see cref="Sjd2Exception"/>). With a list, stderr says why a provider was skipped and which
    /// one the graphs run on.
    /// </summary>
    public Sjd2Pipeline Open(ParseResult parse)
    {
        var options = PipelineOptionsOf(parse);
        var pipeline = Sjd2Pipeline.Load(Folder(parse), options);
        foreach (var reason in pipeline.ProviderFallbacks) Console.Error.WriteLine($"sjd2: {reason}.");
        if (options.FallbackProviders.Count > 0) Console.Error.WriteLine($"sjd2: running on {ProviderName(pipeline.Provider)}.");
        return pipeline;
    }

    /// <summary>How the model is opened: <c>--ep</c> (first provider, then its fallbacks), <c>--device-id</c>, <c>--threads</c>, <c>--verbose</c>.</summary>
    public PipelineOptions PipelineOptionsOf(ParseResult parse)
    {
        var providers = ProvidersOf(parse);
        return new PipelineOptions
        {
            Provider = providers[0],
            FallbackProviders = [.. providers.Skip(1)],
            DeviceId = parse.GetValue(DeviceId) ?? 0,
            IntraOpThreads = parse.GetValue(Threads) ?? 0,
            Tf32 = parse.GetValue(Tf32) == "on",
            SampleOnDevice = parse.GetValue(SampleOnDevice) is { } sample ? sample == "on" : null,
            OnnxRuntimeLog = parse.GetValue(Verbose) ? Console.Error.WriteLine : null,
            OnnxRuntimeLogLevel = OnnxRuntimeLogLevel.Info,
        };
    }

    private static ExecutionProvider ToProvider(string name) => name switch
    {
        "cuda" => ExecutionProvider.Cuda,
        "dml" or "directml" => ExecutionProvider.DirectML,
        _ => ExecutionProvider.Cpu,
    };

    // One provider or a comma list, each known and named once; returned lower case, no spaces.
    private static string? ParseProviderList(ArgumentResult result)
    {
        string text = result.Tokens.Count == 0 ? "" : result.Tokens[0].Value;
        var names = text.Split(',', StringSplitOptions.TrimEntries).Select(n => n.ToLowerInvariant()).ToList();
        string? error = null;
        if (names.Any(n => n.Length == 0))
            error = $"--ep '{text}' has an empty entry; use one provider or a comma list such as cuda,cpu.";
        else if (names.FirstOrDefault(n => n is not ("cpu" or "cuda" or "dml" or "directml")) is { } unknown)
            error = $"unknown execution provider '{unknown}'; use --ep cpu, cuda or dml, or a list such as cuda,cpu.";
        else if (names.Select(ToProvider).Distinct().Count() != names.Count)
            error = $"--ep '{text}' names a provider twice; list each once, e.g. cuda,cpu.";
        if (error is null) return string.Join(',', names);
        result.AddError(error);
        return null;
    }
}
