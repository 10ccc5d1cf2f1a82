using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace Sjd2Onnx.Sampling;

/// <summary>
/// The speculative-sampling rule shared by SJD, SJD++ and SJD2. A draft token d drawn from q is
/// accepted with probability min(1, P(d)/q(d)); at a rejection the token is drawn from the
/// residual norm(max(0, P − q)). Together the two give exactly one sample of P whatever q is, as
/// long as q is the distribution d was really drawn from. A one-hot q (a deterministic draft) is
/// passed as an empty span. Owns its scratch buffer: nothing is allocated per call.
/// </summary>
internal sealed class SpeculativeVerifier
{
    // A residual whose mass is below this is rounding noise of P ≈ q, not a distribution: sampling
    // it would pick codes by float error. Sampling P there is off by at most that mass.
    private const float ResidualFloor = 1e-6f;

    private readonly float[] _residual;

    public SpeculativeVerifier(int codebook, bool acceptEveryDraft = false)
    {
        _residual = new float[codebook];
        AcceptEveryDraft = acceptEveryDraft;
    }

    /// <summary>Test hook: accept every draft (a deliberately wrong verifier the exactness tests must catch).</summary>
    internal bool AcceptEveryDraft { get; }

    /// <summary>Whether draft <paramref name="draft"/>, drawn from <paramref name="q"/> (empty = one-hot), is accepted under <paramref name="p"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool Accept(ReadOnlySpan<float> p, int draft, ReadOnlySpan<float> q, SeededRandom rng)
    {
        if (AcceptEveryDraft) return true;
        float pd = p[draft], qd = q.IsEmpty ? 1f : q[draft];
        if (pd >= qd) return true;
        // Only draw a uniform when the outcome is uncertain; u·q(d) < P(d) is u < P(d)/q(d) without a division.
        return rng.NextDouble() * qd < pd;
    }

    /// <summary>The token after a rejection of <paramref name="draft"/>: a sample of norm(max(0, P − q)), or of P when that residual is (numerically) empty.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int Resample(ReadOnlySpan<float> p, int draft, ReadOnlySpan<float> q, SeededRandom rng)
    {
        var r = _residual.AsSpan(0, p.Length);
        if (q.IsEmpty)
        {
            // One-hot q: the residual is P without the draft.
            p.CopyTo(r);
            r[draft] = 0;
        }
        else
        {
            TensorPrimitives.Subtract(p, q, r);
            TensorPrimitives.Max(r, 0f, r);
        }
        float mass = TensorPrimitives.Sum(r);
        // The guard: P ≤ q everywhere leaves nothing (the NaN of a naive normalisation).
        return mass > ResidualFloor && float.IsFinite(mass) ? Categorical.Sample(r, rng) : Categorical.Sample(p, rng);
    }

    /// <summary>
    /// Coupled draft reuse (<see cref="DraftReuse.Coupled"/>): the speculative rule between the old
    /// <paramref name="draft"/>, drawn from <paramref name="q"/>, and the new distribution. The result
    /// is a sample of <paramref name="p"/> that equals the old draft as often as possible.
    /// </summary>
    public int Couple(ReadOnlySpan<float> p, int draft, ReadOnlySpan<float> q, SeededRandom rng) =>
        Accept(p, draft, q, rng) ? draft : Resample(p, draft, q, rng);

    /// <summary>
    /// SJD++ draft reuse for a slot that was not committed: the old draft survives when the new
    /// distribution gives it at least <paramref name="threshold"/>, otherwise a fresh sample of P_new
    /// replaces it. <paramref name="q"/> (the old draft's distribution, or one-hot when
    /// <paramref name="oneHot"/>) is rewritten in place to the distribution the returned draft was
    /// drawn from: q_mix(x) = q_old(x)·[P_new(x) ≥ τ] + P_new(x)·Σ_y q_old(y)·[P_new(y) &lt; τ].
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static int Reuse(ReadOnlySpan<float> pNew, int oldDraft, ref bool oneHot, Span<float> q, float threshold, SeededRandom rng)
    {
        bool keep = pNew[oldDraft] >= threshold;
        if (oneHot)
        {
            // q_old is one-hot on the old draft: q_mix is that one-hot when it is kept, else P_new.
            if (keep) return oldDraft;
            pNew.CopyTo(q);
            oneHot = false;
            return Categorical.Sample(pNew, rng);
        }
        // Mass of the old distribution on codes that would be replaced; it moves to P_new.
        float moved = 0;
        for (int x = 0; x < q.Length; x++)
        {
            if (pNew[x] < threshold) { moved += q[x]; q[x] = 0; }
        }
        if (moved > 0) TensorPrimitives.MultiplyAdd(pNew, moved, q, q);
        return keep ? oldDraft : Categorical.Sample(pNew, rng);
    }
}
