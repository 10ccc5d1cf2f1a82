using System.Numerics;
using System.Runtime.CompilerServices;

namespace Sjd2Onnx.Sampling;

/// <summary>
/// The state and step of xoshiro256** as a value type, so that a hot loop can hold the four words
/// in registers (<see cref="NormalZiggurat"/>); through a class's fields every draw would load and
/// store them again, which made a Gaussian cost three times as much.
/// </summary>
internal struct Xoshiro256StarStar
{
    private ulong _s0, _s1, _s2, _s3;

    /// <summary>The state seeded through SplitMix64.</summary>
    public static Xoshiro256StarStar Create(ulong seed) => new()
    {
        _s0 = SplitMix(ref seed),
        _s1 = SplitMix(ref seed),
        _s2 = SplitMix(ref seed),
        _s3 = SplitMix(ref seed),
    };

    /// <summary>The next 64 random bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong Next()
    {
        ulong result = BitOperations.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0; _s3 ^= _s1; _s1 ^= _s2; _s0 ^= _s3; _s2 ^= t;
        _s3 = BitOperations.RotateLeft(_s3, 45);
        return result;
    }

    private static ulong SplitMix(ref ulong state)
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
