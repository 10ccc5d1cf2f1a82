namespace Sjd2Onnx.Cli.Options;

/// <summary>The value of <c>--window</c>: a size of at least 2, or auto (with no size).</summary>
internal readonly record struct WindowChoice(int? Size, bool Auto);
