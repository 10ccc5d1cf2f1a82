using System.CommandLine;

namespace Sjd2Onnx.Cli.Options;

/// <summary><c>--cfg</c>, <c>--temperature</c>, <c>--top-k</c>, <c>--top-p</c>: unset ones fall back to the model's manifest.</summary>
internal sealed class SamplingOptions
{
    public Option<string?> Cfg { get; } = new("--cfg")
    {
        Description = "Classifier-free guidance scale; 1 turns guidance off. Default: the model's.",
        HelpName = "S",
    };

    public Option<string?> Temperature { get; } = new("--temperature")
    {
        Description = "Sampling temperature (> 0). Default: the model's.",
        HelpName = "T",
    };

    public Option<string?> TopK { get; } = new("--top-k")
    {
        Description = "Keep the K most likely codes; 0 turns top-k off. Default: the model's.",
        HelpName = "K",
    };

    public Option<string?> TopP { get; } = new("--top-p")
    {
        Description = "Keep the most likely codes up to mass P, in (0, 1]; 1 turns top-p off. Default: the model's.",
        HelpName = "P",
    };

    public void AddTo(Command command)
    {
        command.Options.Add(Cfg);
        command.Options.Add(Temperature);
        command.Options.Add(TopK);
        command.Options.Add(TopP);
    }

    /// <summary>The given sampling values read onto <paramref name="options"/> by the engine's <see cref="SettingsBinder"/> (keys cfg, temperature, top_k, top_p).</summary>
    public GenerationOptions Apply(ParseResult parse, GenerationOptions options) =>
        UsageException.FromEngine(() => SettingsBinder.Bind(options, DecodingOptions.Settings(parse, [Cfg, Temperature, TopK, TopP])));
}
