using Microsoft.ML.OnnxRuntime;
using Sjd2Onnx.Imaging;

namespace Sjd2Onnx.Model;

/// <summary>The VQ decoder graph: a grid of image codes to pixels.</summary>
internal sealed class VqDecoder(InferenceSession session, ImageSpec image)
{
    /// <summary>Decodes <paramref name="codes"/> (row-major, grid height × width).</summary>
    public RgbImage Decode(int[] codes, RunOptions runOptions, CancellationToken cancellation)
    {
        if (codes.Length != image.CodeCount) throw new ArgumentException($"expected {image.CodeCount} codes", nameof(codes));
        var ids = new long[codes.Length];
        for (int i = 0; i < ids.Length; i++)
        {
            if ((uint)codes[i] >= (uint)image.CodebookSize) throw new ArgumentOutOfRangeException(nameof(codes), "code outside the codebook");
            ids[i] = codes[i];
        }
        using var input = OrtValue.CreateTensorValueFromMemory(ids, [1, image.GridHeight, image.GridWidth]);
        try
        {
            using var outputs = session.Run(runOptions, ["codes"], [input], ["image"]);
            return RgbImage.FromPlanar(outputs[0].GetTensorDataAsSpan<float>(), image.Width, image.Height, image.PixelMin, image.PixelMax);
        }
        catch (OnnxRuntimeException) when (cancellation.IsCancellationRequested) { throw new OperationCanceledException(cancellation); }
        catch (OnnxRuntimeException e) { throw GraphContract.RunFailed("vq_decoder", e); }
    }
}
