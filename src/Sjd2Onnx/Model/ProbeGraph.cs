using Microsoft.ML.OnnxRuntime.Tensors;

namespace Sjd2Onnx.Model;

/// <summary>
/// A minimal ONNX model built in memory (y = x + x on a float tensor of 4) to test whether an
/// execution provider really loads and runs, without reading a model's (possibly huge) graphs.
/// </summary>
internal static class ProbeGraph
{
    public const string Input = "x";
    public const string Output = "y";
    public const int Length = 4;

    /// <summary>The serialized ModelProto.</summary>
    public static byte[] Build() => new OnnxModelWriter()
        .Input(Input, TensorElementType.Float, Length)
        .Output(Output, TensorElementType.Float, Length)
        .Node("Add", [Input, Input], [Output])
        .Build("probe");
}
