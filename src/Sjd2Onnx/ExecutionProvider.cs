namespace Sjd2Onnx;

/// <summary>Where ONNX Runtime runs the graphs. The application ships the matching native package.</summary>
public enum ExecutionProvider
{
    /// <summary>CPU (package Microsoft.ML.OnnxRuntime).</summary>
    Cpu,
    /// <summary>NVIDIA CUDA (package Microsoft.ML.OnnxRuntime.Gpu).</summary>
    Cuda,
    /// <summary>DirectML on Windows (package Microsoft.ML.OnnxRuntime.DirectML).</summary>
    DirectML,
}
