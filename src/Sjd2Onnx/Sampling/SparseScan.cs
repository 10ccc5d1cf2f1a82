using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Sjd2Onnx.Sampling;

/// <summary>
/// Walks a vector that is at or below a floor almost everywhere (a top-k distribution: a few
/// codes of hundreds or thousands) a whole AVX vector at a time where nothing rises above it.
/// </summary>
internal static class SparseScan
{
    /// <summary>
    /// The first index at or after <paramref name="start"/> whose value is not ≤ <paramref name="floor"/>
    /// (a NaN is not), or the length when there is none.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Next(ReadOnlySpan<float> values, int start, float floor)
    {
        int i = start;
        if (i < values.Length && !(values[i] <= floor)) return i; // dense vectors: one comparison
        if (Vector256.IsHardwareAccelerated)
        {
            ref float first = ref MemoryMarshal.GetReference(values);
            var bound = Vector256.Create(floor);
            while (i + Vector256<float>.Count <= values.Length && Vector256.LessThanOrEqualAll(Vector256.LoadUnsafe(ref first, (nuint)i), bound))
                i += Vector256<float>.Count;
        }
        while (i < values.Length && values[i] <= floor) i++;
        return i;
    }
}
