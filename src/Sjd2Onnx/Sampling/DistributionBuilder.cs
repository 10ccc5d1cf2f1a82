using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace Sjd2Onnx.Sampling;

/// <summary>
/// Logits → probabilities: CFG mix u + s·(c − u), temperature, top-k, softmax, top-p.
/// Owns its scratch buffers, so building a distribution allocates nothing.
/// </summary>
internal sealed class DistributionBuilder
{
    private readonly SamplingSettings _settings;
    private readonly float[] _scratch;
    private readonly int[] _order;

    public DistributionBuilder(SamplingSettings settings, int codebookSize)
    {
        settings.Validate();
        _settings = settings;
        _scratch = new float[codebookSize];
        _order = new int[codebookSize];
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
