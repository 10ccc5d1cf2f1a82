namespace Sjd2Onnx.Cli.Commands;

/// <summary>
/// One image's verdicts in <c>sjd2 eval</c>, whichever evaluator gave them: overall, and per
/// attribute true, false or null (not stated by the prompt).
/// </summary>
internal sealed record Verdicts(bool Overall, IReadOnlyDictionary<string, bool?> Attributes);
