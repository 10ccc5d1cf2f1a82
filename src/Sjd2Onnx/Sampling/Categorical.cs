using System.Runtime.CompilerServices;

namespace Sjd2Onnx.Sampling;

/// <summary>Draws from a discrete distribution given as a probability vector.</summary>
internal static class Categorical
{
    /// <summary>Inverse-CDF sample; falls back to the last positive entry against rounding.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static int Sample(ReadOnlySpan<float> probs, SeededRandom rng)
    {
        double total = 0;
        for (int i = 0; i < probs.Length; i++) total += probs[i];
        double u = rng.NextDouble() * total, cumulative = 0;
        int last = -1;
        for (int i = 0; i < probs.Length; i++)
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
