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
    /// Fills <paramref name="destination"/> with standard normals by the ziggurat
    /// (<see cref="NormalZiggurat"/>): exact, unbounded tails, one 64-bit draw and a compare for
    /// 99 % of values. Its own stream, not <see cref="NextGaussian"/>'s. SJD2 draws a vector of
    /// noise for every slot that enters the window (about 49 000 values an image on the default
    /// model); the float Box–Muller loop before it cost 11 ns a value warm, the ziggurat 4.7 in
    /// back-to-back runs of one micro-benchmark.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void FillGaussian(Span<float> destination)
    {
        NormalZiggurat.Fill(this, destination);
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
