namespace Sjd2Onnx;

/// <summary>The least severe ONNX Runtime log message passed to <see cref="PipelineOptions.OnnxRuntimeLog"/>.</summary>
public enum OnnxRuntimeLogLevel
{
    /// <summary>Everything, including per-node placement and optimisation details.</summary>
    Verbose,
    /// <summary>Informational messages and above.</summary>
    Info,
    /// <summary>Warnings and above (ONNX Runtime's own default).</summary>
    Warning,
    /// <summary>Errors and above.</summary>
    Error,
    /// <summary>Fatal errors only.</summary>
    Fatal,
}
