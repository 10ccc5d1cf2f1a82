using System.Runtime.CompilerServices;

namespace Sjd2Onnx.Sampling;

/// <summary>
/// xoshiro256** seeded through SplitMix64: the same seed gives the same stream on every
/// platform and .NET version (System.Random's algorithm is an implementation detail).
/// </summary>
internal sealed class SeededRandom
{
    private ulong _s0, _s1, _s2, _s3;
    private double? _spareGaussian;

    public SeededRandom(ulong seed)
    {
        _s0 = SplitMix(ref seed); _s1 = SplitMix(ref seed); _s2 = SplitMix(ref seed); _s3 = SplitMix(ref seed);
    }

    public ulong NextUInt64()
    {
        ulong result = RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0; _s3 ^= _s1; _s1 ^= _s2; _s0 ^= _s3; _s2 ^= t;
        _s3 = RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform integer in [0, n).</summary>
    public int NextInt(int n) => (int)((NextUInt64() >> 33) % (ulong)n);

    /// <summary>Standard normal (Marsaglia's polar method).</summary>
    public double NextGaussian()
    {
        if (_spareGaussian is double spare) { _spareGaussian = null; return spare; }
        var (u, v, s) = NextPolarPoint();
        double f = Math.Sqrt(-2 * Math.Log(s) / s);
        _spareGaussian = v * f;
        return u * f;
    }

    /// <summary>
    /// Fills <paramref name="destination"/> with standard normals by the Box–Muller transform in
    /// float: one 64-bit draw gives two 32-bit uniforms u1 ∈ (0, 1], u2 ∈ [0, 1) and two normals
    /// √(−2 ln u1)·(cos 2πu2, sin 2πu2); an odd length drops the last sine. Its own stream, not
    /// <see cref="NextGaussian"/>'s. SJD2 draws an embedding of noise for every new slot; the polar
    /// method it used before took its logarithms in bulk through generic vectorised kernels that
    /// stay unoptimised for hundreds of calls after start-up (2.4 µs a value over the first 300
    /// fills, 96 ns over the next 20 000, 12 ns warm), while this loop is compiled fully optimised
    /// at once and costs 10–30 ns a value from the first call. The tails end at √(2·32·ln 2) ≈ 6.7σ.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void FillGaussian(Span<float> destination)
    {
        const float unit = 1f / 4294967296f;
        for (int i = 0; i < destination.Length; i += 2)
        {
            ulong bits = NextUInt64();
            float radius = MathF.Sqrt(-2f * MathF.Log(((uint)(bits >> 32) + 1f) * unit)); // u1 > 0: finite
            var (sin, cos) = MathF.SinCos((uint)bits * (2f * MathF.PI * unit));
            destination[i] = radius * cos;
            if (i + 1 < destination.Length) destination[i + 1] = radius * sin;
        }
    }

    /// <summary>A uniform point (u, v) inside the unit disc, without its centre, and s = u² + v²: the polar method's draw.</summary>
    private (double U, double V, double S) NextPolarPoint()
    {
        double u, v, s;
        do
        {
            u = 2 * NextDouble() - 1;
            v = 2 * NextDouble() - 1;
            s = u * u + v * v;
        } while (s >= 1 || s == 0);
        return (u, v, s);
    }

    private static ulong RotateLeft(ulong x, int k) => (x << k) | (x >> (64 - k));

    private static ulong SplitMix(ref ulong state)
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
