using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace Sjd2Onnx.Sampling;

/// <summary>Draws from a discrete distribution given as a probability vector.</summary>
internal static class Categorical
{
    /// <summary>Inverse-CDF sample; falls back to the last positive entry against rounding.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static int Sample(ReadOnlySpan<float> probs, SeededRandom rng)
    {
        double total = TensorPrimitives.Sum(probs);
        double u = rng.NextDouble() * total, cumulative = 0;
        int last = -1;
        // Entries ≤ 0 are skipped (after top-k almost all of them, a vector at a time).
        for (int i = SparseScan.Next(probs, 0, 0f); i < probs.Length; i = SparseScan.Next(probs, i + 1, 0f))
        {
            cumulative += probs[i];
            last = i;
            if (u < cumulative) return i;
        }
        if (last < 0) throw new InvalidOperationException("cannot sample from an all-zero distribution");
        return last;
    }
}
