namespace Sjd2Onnx;

/// <summary>How a model folder is opened.</summary>
public sealed record PipelineOptions
{
    /// <summary>Execution provider for every graph.</summary>
    public ExecutionProvider Provider { get; init; } = ExecutionProvider.Cpu;

    /// <summary>GPU index for CUDA or DirectML.</summary>
    public int DeviceId { get; init; }
}
