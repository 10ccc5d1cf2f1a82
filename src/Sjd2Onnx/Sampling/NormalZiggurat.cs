using System.Runtime.CompilerServices;

namespace Sjd2Onnx.Sampling;

/// <summary>
/// Exact standard normals by Marsaglia and Tsang's ziggurat: the area under f(x) = exp(−x²/2),
/// x ≥ 0, is cut into 128 horizontal layers of equal area v, the bottom one a rectangle plus the
/// tail beyond r. A draw picks a layer and a point across its width; about 97 % of draws land where
/// the layer lies wholly under the curve and are accepted with half a 64-bit random number, a
/// table read and a compare. The rest test the curve (a wedge) or sample the tail exactly (Marsaglia's
/// exponential method), so the tails are unbounded. Each 32-bit half of a 64-bit draw gives the
/// layer (7 bits), the sign (1 bit) and the position (24 other bits, a float's precision): no bit
/// serves twice, which avoids the index/value correlation of the original 32-bit version.
/// </summary>
internal static class NormalZiggurat
{
    private const int Layers = 128;
    private const double R = 3.442619855899;        // the bottom layer's rectangle ends here
    private const double V = 9.91256303526217e-3;   // area of every layer (for f without 1/√(2π))

    // Edges[i] is layer i's width; layer i ≥ 1 spans heights f(Edges[i]) .. f(Edges[i + 1]).
    // Edges[0] = V / f(R) is the bottom layer's width as if its tail were a rectangle of equal area.
    private static readonly double[] Edges = BuildEdges();
    private static readonly double[] Heights = [.. Edges.Select(x => Density(x))];

    /// <summary>Fills <paramref name="destination"/> with standard normals from <paramref name="random"/>'s stream.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Fill(SeededRandom random, Span<float> destination)
    {
        // The table in a local: code compiled at full optimisation from the first call cannot assume
        // the class is initialised, so a static read in the loop would be checked every time. The
        // generator's state in a local too, in registers; written back around the rare rejections.
        double[] edges = Edges;
        ref var shared = ref random.State;
        var state = shared;
        for (int i = 0; i < destination.Length; i += 2)
        {
            // Each half of a 64-bit draw makes one value (the outputs are floats, and 24 bits of
            // position are a float's precision). An odd length drops the last half.
            ulong bits = state.Next();
            uint low = (uint)bits, high = (uint)(bits >> 32);
            int lowLayer = Layer(low), highLayer = Layer(high);
            double x = Position(low, edges[lowLayer]), y = Position(high, edges[highLayer]);
            bool lowOut = x >= edges[lowLayer + 1], highOut = y >= edges[highLayer + 1];
            if (lowOut || highOut)
            {
                // Outside a layer's inner rectangle: the exact, slow path draws from the shared stream.
                shared = state;
                if (lowOut) x = Rejected(random, lowLayer, x);
                if (highOut) y = Rejected(random, highLayer, y);
                state = shared;
            }
            destination[i] = Signed(x, low);
            if (i + 1 < destination.Length) destination[i + 1] = Signed(y, high);
        }
        shared = state;
    }

    // A 32-bit half gives the layer (7 bits), the sign (bit 7) and the position across the layer
    // (24 other bits); no bit serves twice.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Layer(uint bits) => (int)(bits & (Layers - 1));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double Position(uint bits, double layerWidth) => (bits >> 8) * (1.0 / (1 << 24)) * layerWidth;

    // Bit 7 becomes the sign bit: a branch on a random sign would be mispredicted half the time.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Signed(double magnitude, uint bits) =>
        BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits((float)magnitude) ^ (int)((bits & Layers) << 24));

    // The 3 % of draws outside the layer's inner rectangle: the tail, or a wedge tested against f.
    // Returns a magnitude; the sign bit of the first draw stays valid, as the sign is independent of it.
    private static double Rejected(SeededRandom random, int layer, double x)
    {
        while (true)
        {
            if (layer == 0)
            {
                double t, y;
                do
                {
                    t = -Math.Log(1 - random.NextDouble()) / R;
                    y = -Math.Log(1 - random.NextDouble());
                } while (2 * y < t * t);
                return R + t;
            }
            double height = Heights[layer] + random.NextDouble() * (Heights[layer + 1] - Heights[layer]);
            if (height < Density(x)) return x;

            ulong bits = random.NextUInt64();
            layer = (int)(bits & (Layers - 1));
            x = (long)(bits >> 11) * (1.0 / (1L << 53)) * Edges[layer];
            if (x < Edges[layer + 1]) return x;
        }
    }

    private static double Density(double x) => Math.Exp(-0.5 * x * x);

    private static double[] BuildEdges()
    {
        var edges = new double[Layers + 1];
        edges[0] = V / Density(R);
        edges[1] = R;
        // Each layer above has area V: x_{i+1} = f⁻¹(f(x_i) + V / x_i). The top layer's edge is 0.
        for (int i = 1; i < Layers - 1; i++)
            edges[i + 1] = Math.Sqrt(-2 * Math.Log(Density(edges[i]) + V / edges[i]));
        edges[Layers] = 0;
        return edges;
    }
}
