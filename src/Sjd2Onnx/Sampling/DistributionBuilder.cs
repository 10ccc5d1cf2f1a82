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
/// A small top-k (the usual case: image models sample from a few codes) takes a fused path: one
/// scan keeps the k largest logits in a sorted list, and softmax and top-p run on those k values
/// only. It keeps the same set as the general path (ties go to the lower index) and computes the
/// same probabilities up to float rounding; it is about ten times faster on a 512-code book,
/// and the speculative decoders build a distribution for every window position of every pass.
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

    public DistributionBuilder(SamplingSettings settings, int codebookSize)
    {
        settings.Validate();
        _settings = settings;
        _scratch = new float[codebookSize];
        _order = new int[codebookSize];
        int kept = settings.TopK > 0 && settings.TopK <= FusedTopKLimit ? settings.TopK : 0;
        _keptValues = new float[kept];
        _keptIndices = new int[kept];
    }

    public SamplingSettings Settings => _settings;

    /// <summary>Writes the distribution into <paramref name="probs"/>; <paramref name="uncond"/> may be empty (no CFG).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Build(ReadOnlySpan<float> cond, ReadOnlySpan<float> uncond, Span<float> probs)
    {
        int k = cond.Length;
        if (probs.Length != k) throw new ArgumentException("probs must have one entry per code", nameof(probs));
        // Guidance: u + s·(c − u).
        if (!uncond.IsEmpty && _settings.CfgScale != 1f)
        {
            TensorPrimitives.Subtract(cond, uncond, probs);
            TensorPrimitives.MultiplyAdd(probs, _settings.CfgScale, uncond, probs);
        }
        else
        {
            cond.CopyTo(probs);
        }
        if (_settings.Temperature != 1f) TensorPrimitives.Divide(probs, _settings.Temperature, probs);

        int topK = _settings.TopK;
        if (topK > 0 && topK < k && topK <= FusedTopKLimit)
        {
            BuildFromTopK(probs, topK);
            return;
        }
        if (topK > 0 && topK < k)
        {
            float threshold = KthLargest(probs, topK);
            // Keep values above the threshold, then ties in index order until exactly k are kept.
            int above = 0;
            for (int i = 0; i < k; i++) if (probs[i] > threshold) above++;
            int tiesLeft = topK - above;
            for (int i = 0; i < k; i++)
            {
                if (probs[i] > threshold) continue;
                if (probs[i] == threshold && tiesLeft > 0) { tiesLeft--; continue; }
                probs[i] = float.NegativeInfinity;
            }
        }

        SoftMax(probs);

        if (_settings.TopP < 1f) ApplyTopP(probs, _settings.TopP);
    }

    /// <summary>
    /// The fused path: <paramref name="probs"/> holds the guided, tempered logits; it is rewritten
    /// to softmax over the k largest (ties to the lower index), then top-p, zero elsewhere.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void BuildFromTopK(Span<float> probs, int topK)
    {
        var values = _keptValues.AsSpan(0, topK);
        var indices = _keptIndices.AsSpan(0, topK);
        // Seed the list with the first k logits, sorted descending (stable: equal values keep index order).
        for (int i = 0; i < topK; i++)
        {
            float v = probs[i];
            if (float.IsNaN(v)) throw new InvalidOperationException("the model produced NaN logits");
            int at = i;
            while (at > 0 && values[at - 1] < v) { values[at] = values[at - 1]; indices[at] = indices[at - 1]; at--; }
            values[at] = v;
            indices[at] = i;
        }
        float floor = values[topK - 1];
        int n = probs.Length;
        int next = topK;
        // Skip whole vectors that hold nothing above the current k-th value: after the first
        // few codes almost every vector is skipped, so the scan runs at memory speed.
        if (Vector256.IsHardwareAccelerated)
        {
            ref float start = ref MemoryMarshal.GetReference(probs);
            while (next + Vector256<float>.Count <= n)
            {
                var block = Vector256.LoadUnsafe(ref start, (nuint)next);
                if (Vector256.GreaterThanAny(block, Vector256.Create(floor)) || !Vector256.EqualsAll(block, block))
                {
                    for (int i = next; i < next + Vector256<float>.Count; i++) floor = Insert(probs[i], i, values, indices, floor);
                }
                next += Vector256<float>.Count;
            }
        }
        for (int i = next; i < n; i++) floor = Insert(probs[i], i, values, indices, floor);

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
        keys.Sort(order); // descending probability; ties by the sort's order of equal keys
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

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private float KthLargest(ReadOnlySpan<float> values, int kth)
    {
        var a = _scratch.AsSpan(0, values.Length);
        values.CopyTo(a);
        // Quickselect for the element that would sit at index kth−1 in descending order.
        int lo = 0, hi = a.Length - 1, target = kth - 1;
        while (lo < hi)
        {
            float pivot = a[(lo + hi) >>> 1];
            int i = lo, j = hi;
            while (i <= j)
            {
                while (a[i] > pivot) i++;
                while (a[j] < pivot) j--;
                if (i <= j) { (a[i], a[j]) = (a[j], a[i]); i++; j--; }
            }
            if (target <= j) hi = j;
            else if (target >= i) lo = i;
            else break;
        }
        return a[target];
    }
}
