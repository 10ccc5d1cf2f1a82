using Microsoft.ML.OnnxRuntime.Tensors;

namespace Sjd2Onnx.Model;

/// <summary>
/// The small graphs that keep a contract-2 KV cache on the execution provider's device, built in
/// memory for the model's layer count and KV element type and run on the transformer's provider:
/// <list type="bullet">
/// <item><b>prepare</b>, run before every pass: gathers the kept rows of the last window's new KV
/// rows (all layer tensors stacked, [T,B,H,S,Dh]) and scatters them into the stacked cache at
/// their positions, then builds the pass's <c>attention_mask</c> from four integers. The cache
/// output is bound to the cache's own buffer, so <c>ScatterND</c> writes in place (ONNX Runtime's
/// CPU and CUDA kernels skip their copy when output and input share memory): only the kept rows
/// move, on the device, in two kernels whatever the layer count.</item>
/// <item><b>zeros</b> and <b>restride</b>: initialise the cache and widen its row stride.</item>
/// </list>
/// Where the cache is host memory of floats the caches do that work
/// themselves and these graphs are not run (<see cref="KvCacheGraphs.WritesOnHost"/>).
/// </summary>
internal static class KvCacheGraphDefinitions
{
    // Commit the last window's kept rows (stacked [T,B,H,S,Dh] -> cache [T,B,H,stride,Dh], in place;
    // zero kept rows is a no-op) and build the next pass's attention mask [B, total].
    public static byte[] Prepare(TensorElementType type)
    {
        var i64 = TensorElementType.Int64;
        var w = new OnnxModelWriter()
            .Input("cache", type, "tensors", "batch", "heads", "stride", "head_dim")
            .Input("rows", type, "tensors", "batch", "heads", "window", "head_dim")
            .Input("kept", i64, "kept")
            .Input("indices", i64, "tensors", "batch", "heads", "kept", 4)
            .Input("cached", i64).Input("stride", i64).Input("total", i64).Input("padding", i64, "batch", 1)
            .Output("cache_out", type, "tensors", "batch", "heads", "stride", "head_dim")
            .Output("attention_mask", i64, "batch", "total")
            .Node("Gather", ["rows", "kept"], ["kept_rows"], OnnxModelWriter.Int("axis", 3))
            .Node("ScatterND", ["cache", "indices", "kept_rows"], ["cache_out"])
            // Cache row t is visible iff filled (t < cached) and not padding; window token j = column
            // stride + j iff its cache index cached + j is not padding.
            .Node("Constant", [], ["zero"], OnnxModelWriter.Scalar("value", i64, BitConverter.GetBytes(0L)))
            .Node("Constant", [], ["one"], OnnxModelWriter.Scalar("value", i64, BitConverter.GetBytes(1L)))
            .Node("Range", ["zero", "total", "one"], ["t"])
            .Node("GreaterOrEqual", ["t", "stride"], ["in_window"])
            .Node("Less", ["t", "cached"], ["in_cache"])
            .Node("Or", ["in_window", "in_cache"], ["filled"])
            .Node("Sub", ["t", "stride"], ["window_index"])
            .Node("Add", ["window_index", "cached"], ["window_position"])
            .Node("Where", ["in_window", "window_position", "t"], ["position"])
            .Node("GreaterOrEqual", ["position", "padding"], ["not_padding"])
            .Node("And", ["filled", "not_padding"], ["visible"])
            .Node("Cast", ["visible"], ["attention_mask"], OnnxModelWriter.Int("to", (long)i64));
        return w.Build("sjd2_kv_prepare");
    }

    public static byte[] Zeros(TensorElementType type) => new OnnxModelWriter()
        .Input("shape", TensorElementType.Int64, 5)
        .Output("zeros", type, "tensors", "batch", "heads", "stride", "head_dim")
        .Node("ConstantOfShape", ["shape"], ["zeros"],
            OnnxModelWriter.Scalar("value", type, type == TensorElementType.Float16 ? new byte[2] : new byte[4], rank0: false))
        .Build("sjd2_kv_zeros");

    public static byte[] Restride(TensorElementType type) => new OnnxModelWriter()
        .Input("x", type, "tensors", "batch", "heads", "stride", "head_dim")
        .Input("pads", TensorElementType.Int64, 10)
        .Output("y", type, "tensors", "batch", "heads", "new_stride", "head_dim")
        .Node("Pad", ["x", "pads"], ["y"])
        .Build("sjd2_kv_restride");
}
