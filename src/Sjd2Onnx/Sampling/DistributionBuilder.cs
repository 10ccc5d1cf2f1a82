using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Sjd2Onnx.Sampling;

/// <summary>
/// Logits → probabilities: CFG mix u + s·(c − u), temperature, top-k, softmax, top-p.
/// Owns its scratch buffers, so building a distribution allocates nothing.
/// </summary>
/// <remarks>
/// A small top-k takes a fused path: one scan keeps the k largest logits in a sorted list, and
/// softmax and top-p run on those k values only; about ten times faster than a full softmax on a
/// 512-code book, and the speculative decoders build a distribution for every window position of
/// every pass. A larger top-k (real models: about 1000 of 16 384 codes) collects the logits above
/// a sampled estimate, selects the k-th value among those and also exponentiates only the kept values. Both keep the same set (ties go to the
/// lower index) and the same probabilities, up to float rounding, as softmax over the whole vector.
/// </remarks>
internal sealed class DistributionBuilder
{
    /// <summary>Largest top-k served by the fused path; a sorted insertion list stops paying beyond it.</summary>
    internal const int FusedTopKLimit = 64;

    private readonly SamplingSettings _settings;
    private readonly float[] _scratch;
    private readonly int[] _order;
    private readonly float[] _keptValues;
    private readonly int[] _keptIndices;
    private readonly uint[] _keys;
    private readonly float[] _sample = new float[256];
    private readonly float[] _candidateValues;
    private readonly int[] _candidateIndices;

    public DistributionBuilder(SamplingSettings settings, int codebookSize)
    {
        settings.Validate();
        _settings = settings;
        _scratch = new float[codebookSize];
        _order = new int[codebookSize];
        int kept = settings.TopK > 0 && settings.TopK <= FusedTopKLimit ? settings.TopK : 0;
        _keptValues = new float[kept];
        _keptIndices = new int[kept];
        bool large = settings.TopK > FusedTopKLimit && settings.TopK < codebookSize;
        _keys = new uint[large ? codebookSize : 0];
        _candidateValues = new float[large ? codebookSize : 0];
        _candidateIndices = new int[large ? codebookSize : 0];
    }

    public SamplingSettings Settings => _settings;

    /// <summary>Writes the distribution into <paramref name="probs"/>; <paramref name="uncond"/> may be empty (no CFG).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Build(ReadOnlySpan<float> cond, ReadOnlySpan<float> uncond, Span<float> probs)
    {
        int k = cond.Length;
        if (probs.Length != k) throw new ArgumentException("probs must have one entry per code", nameof(probs));
        int topK = _settings.TopK;
        bool fused = topK > 0 && topK < k && topK <= FusedTopKLimit;
        bool guided = !uncond.IsEmpty && _settings.CfgScale != 1f;
        // Without guidance or temperature the fused path reads the logits where they are.
        ReadOnlySpan<float> logits = cond;
        if (guided || _settings.Temperature != 1f || !fused)
        {
            // Guidance: u + s·(c − u).
            if (guided)
            {
                TensorPrimitives.Subtract(cond, uncond, probs);
                TensorPrimitives.MultiplyAdd(probs, _settings.CfgScale, uncond, probs);
            }
            else
            {
                cond.CopyTo(probs);
            }
            if (_settings.Temperature != 1f) TensorPrimitives.Divide(probs, _settings.Temperature, probs);
            logits = probs;
        }

        if (fused)
        {
            if (topK <= Vector256<float>.Count && Vector256.IsHardwareAccelerated && k >= 2 * Vector256<float>.Count)
                SelectTopKAboveLaneFloor(logits, topK);
            else
                SelectTopK(logits, topK);
            WriteTopK(probs, topK);
            return;
        }
        if (topK > 0 && topK < k)
        {
            BuildFromLargeTopK(probs, topK);
            return;
        }

        SoftMax(probs);

        if (_settings.TopP < 1f) ApplyTopP(probs, _settings.TopP);
    }

    /// <summary>
    /// Writes the distribution from the top k already selected on the provider: logits after CFG
    /// and temperature, descending, ties in code order. The softmax runs over the same values in
    /// the same order as <see cref="Build"/> would, so the probabilities are the same floats.
    /// </summary>
    public void BuildFromTopK(ReadOnlySpan<float> values, ReadOnlySpan<int> codes, Span<float> probs)
    {
        int topK = values.Length;
        if (topK != _settings.TopK || codes.Length != topK || topK >= probs.Length || _settings.TopP < 1f)
            throw new InvalidOperationException($"a top-{topK} selection does not serve top-k {_settings.TopK}, top-p {_settings.TopP} over {probs.Length} codes");
        foreach (float v in values)
            if (float.IsNaN(v)) throw new InvalidOperationException("the model produced NaN logits");
        if (topK <= FusedTopKLimit)
        {
            values.CopyTo(_keptValues);
            codes.CopyTo(_keptIndices);
            WriteTopK(probs, topK);
            return;
        }
        // The large path keeps its values in code order.
        var kept = _candidateValues.AsSpan(0, topK);
        var keptCodes = _candidateIndices.AsSpan(0, topK);
        values.CopyTo(kept);
        codes.CopyTo(keptCodes);
        keptCodes.Sort(kept);
        SoftMax(kept);
        probs.Clear();
        for (int i = 0; i < topK; i++) probs[keptCodes[i]] = kept[i];
    }

    /// <summary>
    /// The fused path's selection: the k largest of <paramref name="logits"/> (ties to the lower
    /// index) into the kept lists, sorted descending, by one scan that seeds the list with the first
    /// k and inserts what beats the current k-th value.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void SelectTopK(ReadOnlySpan<float> logits, int topK)
    {
        var values = _keptValues.AsSpan(0, topK);
        var indices = _keptIndices.AsSpan(0, topK);
        // Seed the list with the first k logits, sorted descending (stable: equal values keep index order).
        for (int i = 0; i < topK; i++) Seed(logits[i], i, i, values, indices);
        float floor = values[topK - 1];
        int n = logits.Length;
        int next = topK;
        // Skip whole vectors that hold nothing above the current k-th value: after the first
        // few codes almost every vector is skipped, so the scan runs at memory speed.
        if (Vector256.IsHardwareAccelerated)
        {
            ref float start = ref MemoryMarshal.GetReference(logits);
            while (next + Vector256<float>.Count <= n)
            {
                var block = Vector256.LoadUnsafe(ref start, (nuint)next);
                if (Vector256.GreaterThanAny(block, Vector256.Create(floor)) || !Vector256.EqualsAll(block, block))
                {
                    for (int i = next; i < next + Vector256<float>.Count; i++) floor = Insert(logits[i], i, values, indices, floor);
                }
                next += Vector256<float>.Count;
            }
        }
        for (int i = next; i < n; i++) floor = Insert(logits[i], i, values, indices, floor);
    }

    /// <summary>
    /// The same selection for k ≤ a vector's width, in two vector passes. The first takes the
    /// maximum of every lane over all whole vectors: those are as many distinct logits as lanes, so
    /// the smallest of them is at most the k-th largest logit, and nothing below it can be kept.
    /// The second visits, in index order, only the vectors holding a logit at or above that floor
    /// (about k of them) and runs <see cref="SelectTopK"/>'s list over those logits alone: the
    /// same kept set and order, since every logit left out is smaller than all k kept ones.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void SelectTopKAboveLaneFloor(ReadOnlySpan<float> logits, int topK)
    {
        int width = Vector256<float>.Count, n = logits.Length, whole = n - n % width;
        ref float start = ref MemoryMarshal.GetReference(logits);
        // Four running maxima hide the instruction's latency. MaxNative is one instruction; what it
        // does with a NaN does not matter, as every lane still holds some logit or a NaN.
        var lanes = Vector256.LoadUnsafe(ref start);
        Vector256<float> lanes1 = lanes, lanes2 = lanes, lanes3 = lanes;
        int i = width;
        for (; i + 4 * width <= whole; i += 4 * width)
        {
            lanes = Vector256.MaxNative(lanes, Vector256.LoadUnsafe(ref start, (nuint)i));
            lanes1 = Vector256.MaxNative(lanes1, Vector256.LoadUnsafe(ref start, (nuint)(i + width)));
            lanes2 = Vector256.MaxNative(lanes2, Vector256.LoadUnsafe(ref start, (nuint)(i + 2 * width)));
            lanes3 = Vector256.MaxNative(lanes3, Vector256.LoadUnsafe(ref start, (nuint)(i + 3 * width)));
        }
        for (; i < whole; i += width) lanes = Vector256.MaxNative(lanes, Vector256.LoadUnsafe(ref start, (nuint)i));
        lanes = Vector256.MaxNative(Vector256.MaxNative(lanes, lanes1), Vector256.MaxNative(lanes2, lanes3));
        float lowest = MinLane(lanes);
        var bound = Vector256.Create(lowest);
        var values = _keptValues.AsSpan(0, topK);
        var indices = _keptIndices.AsSpan(0, topK);
        int seeded = 0;
        float floor = float.NegativeInfinity;
        for (int block = 0; block < n; block += width)
        {
            // One bit per logit that is at or above the bound, or NaN (not less than it): a poisoned
            // bound or a NaN anywhere reaches Seed or Insert, which throw.
            uint bits = block < whole
                ? (~Vector256.LessThan(Vector256.LoadUnsafe(ref start, (nuint)block), bound)).ExtractMostSignificantBits()
                : (1u << (n - block)) - 1;
            for (; bits != 0; bits &= bits - 1)
            {
                int j = block + BitOperations.TrailingZeroCount(bits);
                float v = logits[j];
                if (v < lowest) continue; // the ragged tail's logits all come here (false for a NaN)
                if (seeded < topK)
                {
                    Seed(v, j, seeded++, values, indices);
                    floor = values[seeded - 1];
                }
                else floor = Insert(v, j, values, indices, floor);
            }
        }
    }

    private static float MinLane(Vector256<float> lanes)
    {
        float min = lanes[0];
        for (int i = 1; i < Vector256<float>.Count; i++) min = Math.Min(min, lanes[i]);
        return min;
    }

    /// <summary>Puts logit v of code i at position <paramref name="count"/> of a list still filling, keeping it sorted descending and stable.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Seed(float v, int i, int count, Span<float> values, Span<int> indices)
    {
        if (float.IsNaN(v)) throw new InvalidOperationException("the model produced NaN logits");
        int at = count;
        while (at > 0 && values[at - 1] < v) { values[at] = values[at - 1]; indices[at] = indices[at - 1]; at--; }
        values[at] = v;
        indices[at] = i;
    }

    /// <summary>
    /// The fused path's distribution: softmax over the kept logits, then top-p (a prefix, as they
    /// are sorted), written into <paramref name="probs"/> with zero elsewhere.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void WriteTopK(Span<float> probs, int topK)
    {
        var values = _keptValues.AsSpan(0, topK);
        var indices = _keptIndices.AsSpan(0, topK);
        // Softmax over the kept logits; values[0] is the maximum.
        float max = values[0];
        float sum = 0;
        for (int i = 0; i < topK; i++)
        {
            float e = MathF.Exp(values[i] - max);
            values[i] = e;
            sum += e;
        }
        int keep = topK;
        if (_settings.TopP < 1f)
        {
            // The kept values are already in descending order: top-p is a prefix.
            double cumulative = 0;
            for (int i = 0; i < topK; i++)
            {
                cumulative += values[i] / sum;
                if (cumulative >= _settings.TopP) { keep = i + 1; break; }
            }
            sum = 0;
            for (int i = 0; i < keep; i++) sum += values[i];
        }
        probs.Clear();
        for (int i = 0; i < keep; i++) probs[indices[i]] = values[i] / sum;
    }

    /// <summary>
    /// Top-k above the fused path's limit: a strided sample of the logits estimates a value a
    /// little below the k-th largest; one vectorised scan collects every logit at or above it (in
    /// index order, a few more than k); the exact k-th value is selected among those only. When
    /// the estimate was too high (fewer than k collected) every logit is a candidate.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void BuildFromLargeTopK(Span<float> probs, int topK)
    {
        int n = probs.Length;
        var sample = _sample.AsSpan();
        int stride = Math.Max(1, n / sample.Length), taken = 0;
        for (int i = 0; i < n && taken < sample.Length; i += stride) sample[taken++] = probs[i];
        sample = sample[..taken];
        sample.Sort(); // ascending; NaNs first, and the scan below rejects them
        // The k-th largest sits near rank k·taken/n from the top of the sample: aim 1.5× deeper.
        int rank = Math.Min(taken, (int)(1.5 * topK * taken / n) + 8);
        int count = Collect(probs, sample[taken - rank]);
        if (count < topK) count = Collect(probs, float.NegativeInfinity);
        var values = _candidateValues.AsSpan(0, count);
        var indices = _candidateIndices.AsSpan(0, count);
        float threshold = KthLargest(values, topK);
        // Keep values above the threshold, then ties in index order until exactly k are kept.
        int above = 0;
        foreach (float v in values) if (v > threshold) above++;
        int tiesLeft = topK - above, kept = 0;
        for (int i = 0; i < count && kept < topK; i++)
        {
            float v = values[i];
            if (v > threshold || (v == threshold && tiesLeft-- > 0)) { values[kept] = v; indices[kept++] = indices[i]; }
        }
        var keptValues = values[..topK];
        SoftMax(keptValues);
        probs.Clear();
        for (int i = 0; i < topK; i++) probs[indices[i]] = keptValues[i];
        if (_settings.TopP < 1f) ApplyTopP(probs, _settings.TopP);
    }

    /// <summary>Copies every logit ≥ <paramref name="floor"/> with its index, in index order; throws on a NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int Collect(ReadOnlySpan<float> logits, float floor)
    {
        int count = 0, i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            ref float start = ref MemoryMarshal.GetReference(logits);
            var bound = Vector256.Create(floor);
            for (; i + Vector256<float>.Count <= logits.Length; i += Vector256<float>.Count)
            {
                var block = Vector256.LoadUnsafe(ref start, (nuint)i);
                if (!Vector256.GreaterThanOrEqualAny(block, bound) && Vector256.EqualsAll(block, block)) continue;
                for (int j = i; j < i + Vector256<float>.Count; j++) count = CollectOne(logits[j], j, floor, count);
            }
        }
        for (; i < logits.Length; i++) count = CollectOne(logits[i], i, floor, count);
        return count;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int CollectOne(float v, int index, float floor, int count)
    {
        if (float.IsNaN(v)) throw new InvalidOperationException("the model produced NaN logits");
        if (v < floor) return count;
        _candidateValues[count] = v;
        _candidateIndices[count] = index;
        return count + 1;
    }

    /// <summary>Inserts logit v of code i into the descending list when it beats the k-th; returns the new k-th value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Insert(float v, int i, Span<float> values, Span<int> indices, float floor)
    {
        if (float.IsNaN(v)) throw new InvalidOperationException("the model produced NaN logits");
        if (!(v > floor)) return floor; // equal values keep the lower index already in the list
        int at = values.Length - 1;
        while (at > 0 && values[at - 1] < v) { values[at] = values[at - 1]; indices[at] = indices[at - 1]; at--; }
        values[at] = v;
        indices[at] = i;
        return values[^1];
    }

    /// <summary>Numerically safe softmax: TensorPrimitives.SoftMax does not subtract the maximum.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void SoftMax(Span<float> values)
    {
        float max = TensorPrimitives.Max(values);
        if (float.IsNaN(max)) throw new InvalidOperationException("the model produced NaN logits");
        TensorPrimitives.Subtract(values, max, values);
        TensorPrimitives.Exp(values, values);
        float sum = TensorPrimitives.Sum(values);
        TensorPrimitives.Divide(values, sum, values);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ApplyTopP(Span<float> probs, float topP)
    {
        int n = 0;
        for (int i = 0; i < probs.Length; i++) if (probs[i] > 0) _order[n++] = i;
        var order = _order.AsSpan(0, n);
        var keys = _scratch.AsSpan(0, n);
        for (int i = 0; i < n; i++) keys[i] = -probs[order[i]];
        keys.Sort(order); // descending probability
        // The sort is not stable: equal probabilities go back to index order, so the set kept at
        // the boundary does not depend on the sort's internals.
        for (int start = 0, end; start < n; start = end)
        {
            for (end = start + 1; end < n && keys[end] == keys[start]; end++) { }
            if (end - start > 1) order[start..end].Sort();
        }
        double cumulative = 0;
        int keep = n;
        for (int i = 0; i < n; i++)
        {
            cumulative += probs[order[i]];
            if (cumulative >= topP) { keep = i + 1; break; }
        }
        float kept = 0;
        for (int i = 0; i < keep; i++) kept += probs[order[i]];
        for (int i = keep; i < n; i++) probs[order[i]] = 0;
        for (int i = 0; i < keep; i++) probs[order[i]] /= kept;
    }

    /// <summary>
    /// The k-th largest value, by radix selection on the floats' order-preserving bit patterns:
    /// three histogram passes of 11, 11 and 10 bits, each over the values still in the running
    /// bucket. <paramref name="values"/> hold no NaN (<see cref="Collect"/> rejects them).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private float KthLargest(ReadOnlySpan<float> values, int kth)
    {
        var keys = _keys.AsSpan(0, values.Length);
        for (int i = 0; i < keys.Length; i++)
        {
            uint bits = BitConverter.SingleToUInt32Bits(values[i]);
            keys[i] = (bits & 0x8000_0000u) != 0 ? ~bits : bits | 0x8000_0000u; // unsigned order = float order
        }
        Span<int> histogram = stackalloc int[2048];
        int need = kth;
        foreach (var (shift, width) in RadixLevels)
        {
            uint mask = (1u << width) - 1;
            var counts = histogram[..(1 << width)];
            counts.Clear();
            foreach (uint key in keys) counts[(int)((key >> shift) & mask)]++;
            int bucket = counts.Length - 1;
            while (counts[bucket] < need) need -= counts[bucket--];
            int kept = 0;
            foreach (uint key in keys)
                if (((key >> shift) & mask) == (uint)bucket) keys[kept++] = key;
            keys = keys[..kept];
        }
        uint found = keys[0]; // every key left is the same
        return BitConverter.UInt32BitsToSingle((found & 0x8000_0000u) != 0 ? found & 0x7FFF_FFFFu : ~found);
    }

    private static readonly (int Shift, int Width)[] RadixLevels = [(21, 11), (10, 11), (0, 10)];
}
