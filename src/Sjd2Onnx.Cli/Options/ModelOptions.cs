using System.CommandLine;

namespace Sjd2Onnx.Cli.Options;

/// <summary><c>--model</c>, <c>--ep</c> and <c>--device-id</c>: which model folder, opened on which execution provider.</summary>
internal sealed class ModelOptions
{
    public Option<string?> Model { get; } = new("--model")
    {
        Description = "Model folder (holding model.json); default: the onnx/ folder above the current one.",
        HelpName = "DIR",
    };

    public Option<string?> Provider { get; } = new("--ep")
    {
        Description = "Execution provider: cpu (default), cuda or dml; the build must ship its native package.",
        HelpName = "cpu|cuda|dml",
        CustomParser = ValueParsers.OneOf("execution provider", "--ep cpu, cuda or dml", "cpu", "cuda", "dml", "directml"),
    };

    public Option<int?> DeviceId { get; } = new("--device-id")
    {
        Description = "GPU index for cuda or dml.",
        HelpName = "N",
        CustomParser = ValueParsers.Int("--device-id", 0, 64),
    };

    public ModelOptions()
    {
        Provider.CompletionSources.Add("cpu", "cuda", "dml");
    }

    /// <summary>Adds the options; <paramref name="withDevice"/> false leaves <c>--device-id</c> out (commands that pick no GPU).</summary>
    public void AddTo(Command command, bool withDevice = true)
    {
        command.Options.Add(Model);
        command.Options.Add(Provider);
        if (withDevice) command.Options.Add(DeviceId);
    }

    /// <summary>The model folder: <c>--model</c> (which must be a folder) or the repository's onnx/ folder.</summary>
    public string Folder(ParseResult parse) => ModelLocator.Resolve(parse.GetValue(Model));

    /// <summary>The execution provider named by <c>--ep</c>.</summary>
    public ExecutionProvider ProviderOf(ParseResult parse) => parse.GetValue(Provider) switch
    {
        null or "cpu" => ExecutionProvider.Cpu,
        "cuda" => ExecutionProvider.Cuda,
        _ => ExecutionProvider.DirectML,
    };

    /// <summary>The provider as the user named it, for reports.</summary>
    public string ProviderName(ParseResult parse) => parse.GetValue(Provider) ?? "cpu";

    /// <summary>Opens the model; a broken model is a run-time failure (<see cref="Sjd2Exception"/>).</summary>
    public Sjd2Pipeline Open(ParseResult parse) =>
        Sjd2Pipeline.Load(Folder(parse), new PipelineOptions { Provider = ProviderOf(parse), DeviceId = parse.GetValue(DeviceId) ?? 0 });
}
