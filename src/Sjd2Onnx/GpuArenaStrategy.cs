namespace Sjd2Onnx;

/// <summary>How the CUDA provider's memory arena grows when it needs more device memory.</summary>
public enum GpuArenaStrategy
{
    /// <summary>Doubles the arena each time (ONNX Runtime's default): fewer allocations, more memory held.</summary>
    NextPowerOfTwo,
    /// <summary>Grows by exactly what is requested: tighter memory use, more allocations.</summary>
    SameAsRequested,
}
