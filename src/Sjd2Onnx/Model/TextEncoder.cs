using Microsoft.ML.OnnxRuntime;

namespace Sjd2Onnx.Model;

/// <summary>The text-embedding graph: token ids [B, L] to the transformer's input embeddings [B, L, D].</summary>
internal sealed class TextEncoder(InferenceSession session, int hidden)
{
    /// <summary>Embeds <paramref name="batch"/> rows of <paramref name="length"/> ids.</summary>
    public float[] Embed(long[] ids, int batch, int length, RunOptions runOptions, CancellationToken cancellation)
    {
        var result = new float[batch * length * hidden];
        try
        {
            using var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, ids.AsMemory(), [batch, length]);
            using var output = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, result.AsMemory(), [batch, length, hidden]);
            session.Run(runOptions, ["input_ids"], [input], ["inputs_embeds"], [output]);
        }
        catch (OnnxRuntimeException) when (cancellation.IsCancellationRequested) { throw new OperationCanceledException(cancellation); }
        catch (OnnxRuntimeException e) { throw GraphContract.RunFailed("text_embedding", e); }
        return result;
    }
}
