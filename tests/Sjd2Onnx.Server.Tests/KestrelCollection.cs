namespace Sjd2Onnx.Server.Tests;

/// <summary>
/// Tests that run the default model on a real Kestrel (cancellation, load, browser): one at a time,
/// so that they do not slow each other down on a small machine.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class KestrelCollection
{
    public const string Name = "Kestrel, default model";
}
