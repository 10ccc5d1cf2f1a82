using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using Sjd2Onnx.Model;
using Sjd2Onnx.Sampling;

namespace Sjd2Onnx.Decoding;

/// <summary>
/// What <see cref="Sjd2Decoder"/> feeds each slot of its window: a clean embedding, or a noisy one
/// with its level, latent (per-pass schedule) or fixed ε (window schedule) in normalised embedding
/// space. Rows live in a ring indexed by slot; all buffers are allocated once per image.
/// </summary>
internal sealed class Sjd2Inputs
{
    private readonly float[] _sigma, _alpha, _mean, _std, _x0;
    private readonly WindowRamp? _ramp;
    private readonly int _ring, _d, _priorLevel;
    private readonly int[] _level;       // σ index of a noisy slot, −1 when fed clean
    private readonly float[] _latent;    // per-pass: ñ of noisy slots; window: their fixed ε
    private readonly float[] _clean;     // clean embedding of each slot's current token
    private readonly float[] _fedSigma;  // noise level the last pass fed the slot at (0: clean)
    private readonly bool[] _hasTarget;  // window schedule: _clean holds the draft token's embedding

    public Sjd2Inputs(Sjd2Spec spec, bool windowSchedule, int? windowLevels, int ring, int hidden)
    {
        _sigma = spec.SigmaGrid();
        _alpha = new float[_sigma.Length];
        for (int i = 0; i < _sigma.Length; i++) _alpha[i] = Alpha(_sigma[i]);
        (_mean, _std) = (spec.EmbeddingMean, spec.EmbeddingStd);
        _ramp = windowSchedule ? new WindowRamp(spec, windowLevels) : null;
        (_ring, _d, _priorLevel) = (ring, hidden, _sigma.Length / 2);
        _level = new int[ring];
        _latent = new float[ring * hidden];
        _clean = new float[ring * hidden];
        _fedSigma = new float[ring];
        _hasTarget = new bool[ring];
        _x0 = new float[hidden];
    }

    /// <summary>The clean embedding row of a slot.</summary>
    public Span<float> Clean(int slot) => _clean.AsSpan(slot % _ring * _d, _d);

    /// <summary>The noise level the last pass fed a slot at (0: clean).</summary>
    public float FedSigma(int slot) => _fedSigma[slot % _ring];

    /// <summary>From now on the slot is fed its token's clean embedding.</summary>
    public void SetClean(int slot) => _level[slot % _ring] = -1;

    /// <summary>A new slot: pure noise at σ_max with a fresh ε, no draft token yet.</summary>
    public void StartNoise(int slot, SeededRandom rng)
    {
        int r = slot % _ring;
        _level[r] = 0;
        _hasTarget[r] = false;
        rng.FillGaussian(_latent.AsSpan(r * _d, _d));
    }

    /// <summary>
    /// A new slot seeded with a prior's token: ñ = α·n(e_prior) + σ·ε at the middle level
    /// (per-pass schedule), or the token noised to its position's level when fed (window schedule).
    /// </summary>
    public void SeedPrior(int slot, ReadOnlySpan<float> embedding)
    {
        int r = slot % _ring;
        embedding.CopyTo(Clean(slot));
        if (_ramp is not null)
        {
            _hasTarget[r] = true;
            return;
        }
        Normalise(embedding, _mean, _std, _x0);
        var z = _latent.AsSpan(r * _d, _d);
        TensorPrimitives.Multiply(z, _sigma[_priorLevel], z);
        TensorPrimitives.MultiplyAdd(_x0, _alpha[_priorLevel], z, z);
        _level[r] = _priorLevel;
    }

    /// <summary>Writes the forced token's embedding for a slot; it is fed clean.</summary>
    public float WriteForced(int slot, ReadOnlySpan<float> forced, Span<float> destination)
    {
        _fedSigma[slot % _ring] = 0;
        forced.CopyTo(destination);
        return 0;
    }

    /// <summary>
    /// Writes a code slot's input for a pass from anchor n − 1 with <paramref name="drafts"/> drafts;
    /// returns the noise level it is fed at (0: clean).
    /// </summary>
    public float Write(int slot, int n, int drafts, Span<float> destination)
    {
        int r = slot % _ring;
        _fedSigma[r] = 0;
        if (_ramp is not null && slot >= n && _level[r] >= 0 && _hasTarget[r])
        {
            // Window schedule: the draft's embedding at its position's level. (A slot with no
            // draft token yet is fed below as pure noise at level 0, σ_max.)
            float to = _ramp.Sigma(slot - n + 1, drafts);
            if (to <= 0f) _level[r] = -1;
            else
            {
                NoisedEmbedding(Clean(slot), _latent.AsSpan(r * _d, _d), to, _mean, _std, destination);
                return _fedSigma[r] = to;
            }
        }
        if (slot < n || _level[r] < 0)
        {
            Clean(slot).CopyTo(destination);
            return 0;
        }
        // Fed as ñ·std + mean at its noise level.
        TensorPrimitives.MultiplyAdd(_latent.AsSpan(r * _d, _d), _std, _mean, destination);
        return _fedSigma[r] = _sigma[_level[r]];
    }

    /// <summary>
    /// A slot's new draft token, embedded: a noisy slot takes one DDIM (η = 0) step toward it
    /// (per-pass schedule), or waits until its next position is known (window schedule).
    /// </summary>
    public void Advance(int slot, ReadOnlySpan<float> embedding)
    {
        int r = slot % _ring;
        embedding.CopyTo(Clean(slot));
        if (_level[r] < 0) return;
        if (_ramp is not null)
        {
            _hasTarget[r] = true;
            return;
        }
        // DDIM (η = 0) from level k to k+1 toward n̂0 = normalised embedding of x̂.
        int lv = _level[r];
        Normalise(embedding, _mean, _std, _x0);
        if (lv + 1 >= _sigma.Length)
        {
            _level[r] = -1; // past σ_min: fed clean
            return;
        }
        DdimStep(_latent.AsSpan(r * _d, _d), _x0, _sigma[lv], _sigma[lv + 1]);
        _level[r] = lv + 1;
    }

    // The normalised embedding n = (e − mean)/std noised to σ with ε and fed back in embedding space:
    // (α·n + σ·ε)·std + mean = α·e + (1 − α)·mean + σ·std·ε, in one pass over the vectors (a slot of
    // the window each pass; four TensorPrimitives calls cost about four times as much here).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void NoisedEmbedding(ReadOnlySpan<float> embedding, ReadOnlySpan<float> epsilon, float sigma,
        ReadOnlySpan<float> mean, ReadOnlySpan<float> std, Span<float> result)
    {
        float alpha = Alpha(sigma), rest = 1f - alpha;
        int i = 0, width = Vector<float>.Count;
        var a = new Vector<float>(alpha);
        var b = new Vector<float>(rest);
        var c = new Vector<float>(sigma);
        for (; i <= result.Length - width; i += width)
        {
            var value = a * new Vector<float>(embedding[i..]) + b * new Vector<float>(mean[i..])
                + c * new Vector<float>(std[i..]) * new Vector<float>(epsilon[i..]);
            value.CopyTo(result[i..]);
        }
        for (; i < result.Length; i++) result[i] = alpha * embedding[i] + rest * mean[i] + sigma * std[i] * epsilon[i];
    }

    private static float Alpha(float sigma) => MathF.Sqrt(Math.Max(0f, 1f - sigma * sigma));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Normalise(ReadOnlySpan<float> embedding, ReadOnlySpan<float> mean, ReadOnlySpan<float> std, Span<float> result)
    {
        TensorPrimitives.Subtract(embedding, mean, result);
        TensorPrimitives.Divide(result, std, result);
    }

    // DDIM (η = 0) from σ_from to σ_to toward n̂0: ε̂ = (ñ − α_from·n̂0)/σ_from ; ñ' = α_to·n̂0 + σ_to·ε̂,
    // folded into ñ' = (σ_to/σ_from)·ñ + (α_to − α_from·σ_to/σ_from)·n̂0: two passes over the vectors
    // instead of three, and no ε̂ buffer (after a transformer pass these rows are cold in cache).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DdimStep(Span<float> latent, ReadOnlySpan<float> x0, float from, float to)
    {
        float ratio = to / from;
        TensorPrimitives.Multiply(latent, ratio, latent);
        TensorPrimitives.MultiplyAdd(x0, Alpha(to) - Alpha(from) * ratio, latent, latent);
    }
}
