using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

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
        int last = -1, i = 0;
        // After top-k most entries are zero: whole zero vectors are skipped without touching the sum.
        if (Vector256.IsHardwareAccelerated)
        {
            ref float start = ref MemoryMarshal.GetReference(probs);
            for (; i + Vector256<float>.Count <= probs.Length; i += Vector256<float>.Count)
            {
                if (Vector256.LessThanOrEqualAll(Vector256.LoadUnsafe(ref start, (nuint)i), Vector256<float>.Zero)) continue;
                for (int j = i; j < i + Vector256<float>.Count; j++)
                {
                    float p = probs[j];
                    if (p <= 0) continue;
                    cumulative += p;
                    last = j;
                    if (u < cumulative) return j;
                }
            }
        }
        for (; i < probs.Length; i++)
        {
            float p = probs[i];
            if (p <= 0) continue;
            cumulative += p;
            last = i;
            if (u < cumulative) return i;
        }
        if (last < 0) throw new InvalidOperationException("cannot sample from an all-zero distribution");
        return last;
    }
}
