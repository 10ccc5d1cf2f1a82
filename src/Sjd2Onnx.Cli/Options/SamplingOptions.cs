using System.CommandLine;

namespace Sjd2Onnx.Cli.Options;

/// <summary><c>--cfg</c>, <c>--temperature</c>, <c>--top-k</c>, <c>--top-p</c>: unset ones fall back to the model's manifest.</summary>
internal sealed class SamplingOptions
{
    public Option<float?> Cfg { get; } = new("--cfg")
    {
        Description = "Classifier-free guidance scale; 1 turns guidance off. Default: the model's.",
        HelpName = "S",
        CustomParser = ValueParsers.Float("--cfg"),
    };

    public Option<float?> Temperature { get; } = new("--temperature")
    {
        Description = "Sampling temperature (> 0). Default: the model's.",
        HelpName = "T",
        CustomParser = ValueParsers.Float("--temperature"),
    };

    public Option<int?> TopK { get; } = new("--top-k")
    {
        Description = "Keep the K most likely codes; 0 turns top-k off. Default: the model's.",
        HelpName = "K",
        CustomParser = ValueParsers.Int("--top-k", 0, int.MaxValue, " (0 turns top-k off)"),
    };

    public Option<float?> TopP { get; } = new("--top-p")
    {
        Description = "Keep the most likely codes up to mass P, in (0, 1]; 1 turns top-p off. Default: the model's.",
        HelpName = "P",
        CustomParser = ValueParsers.Float("--top-p"),
    };

    public void AddTo(Command command)
    {
        command.Options.Add(Cfg);
        command.Options.Add(Temperature);
        command.Options.Add(TopK);
        command.Options.Add(TopP);
    }

    /// <summary>Copies the given sampling values onto <paramref name="options"/>.</summary>
    public GenerationOptions Apply(ParseResult parse, GenerationOptions options) => options with
    {
        CfgScale = parse.GetValue(Cfg),
        Temperature = parse.GetValue(Temperature),
        TopK = parse.GetValue(TopK),
        TopP = parse.GetValue(TopP),
    };
}
