using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Sjd2Onnx.Model;

/// <summary>
/// Two small graphs run on the transformer's provider after each pass: from the logits [B,S,K]
/// they compute the CFG mix (c − u)·s + u (guided) or take row 0 (plain), divide by the
/// temperature and keep the top k of every window position, sorted descending with ties to the
/// lower code ([S,k] values and int32 codes). Only those cross back to the host: 8·k bytes a
/// position instead of 4·B·K. The operations and their order are the host sampler's, so the
/// distributions built from them are the same floats.
/// </summary>
internal sealed class TopKSampler : IDisposable
{
    private readonly InferenceSession _guided, _plain;

    private TopKSampler(InferenceSession guided, InferenceSession plain)
    {
        _guided = guided;
        _plain = plain;
    }

    /// <summary>Opens both graphs with <paramref name="options"/> (the KV cache graphs' options: one thread, the transformer's provider).</summary>
    public static TopKSampler Open(SessionOptions options)
    {
        var guided = new InferenceSession(Graph(guided: true), options);
        try { return new TopKSampler(guided, new InferenceSession(Graph(guided: false), options)); }
        catch
        {
            guided.Dispose();
            throw;
        }
    }

    /// <summary>The graph for CFG-mixed (<paramref name="guided"/>) or unguided logits.</summary>
    public InferenceSession Session(bool guided) => guided ? _guided : _plain;

    private static byte[] Graph(bool guided)
    {
        var f32 = TensorElementType.Float;
        var i64 = TensorElementType.Int64;
        var w = new OnnxModelWriter()
            .Input("logits", f32, "batch", "window", "codes")
            .Input("cfg", f32).Input("temperature", f32).Input("k", i64, 1)
            .Output("values", f32, "window", "kept")
            .Output("indices", TensorElementType.Int32, "window", "kept")
            .Node("Constant", [], ["row0"], OnnxModelWriter.Scalar("value", i64, BitConverter.GetBytes(0L)))
            .Node("Gather", ["logits", "row0"], ["cond"], OnnxModelWriter.Int("axis", 0));
        if (guided)
        {
            w.Node("Constant", [], ["row1"], OnnxModelWriter.Scalar("value", i64, BitConverter.GetBytes(1L)))
                .Node("Gather", ["logits", "row1"], ["uncond"], OnnxModelWriter.Int("axis", 0))
                .Node("Sub", ["cond", "uncond"], ["difference"])
                .Node("Mul", ["difference", "cfg"], ["scaled"])
                .Node("Add", ["scaled", "uncond"], ["mixed"]);
        }
        // x / 1 is x: dividing always gives the host sampler's values, which divides only when T ≠ 1.
        return w.Node("Div", [guided ? "mixed" : "cond", "temperature"], ["tempered"])
            .Node("TopK", ["tempered", "k"], ["values", "indices64"], OnnxModelWriter.Int("axis", -1), OnnxModelWriter.Int("largest", 1),
                OnnxModelWriter.Int("sorted", 1))
            .Node("Cast", ["indices64"], ["indices"], OnnxModelWriter.Int("to", (long)TensorElementType.Int32))
            .Build(guided ? "sjd2_topk_guided" : "sjd2_topk_plain");
    }

    public void Dispose()
    {
        _guided.Dispose();
        _plain.Dispose();
    }
}
