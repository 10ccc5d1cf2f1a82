using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace Sjd2Onnx.Sampling;

/// <summary>
/// Exact verification of several candidates for one slot (recursive rejection sampling). The
/// target starts as P. Candidate i, drawn from q_i given everything before it (q_i empty =
/// one-hot: a deterministic candidate), is accepted with probability min(1, p_i(c_i)/q_i(c_i));
/// on rejection the target becomes p_{i+1} = norm(max(0, p_i − q_i)) — for a one-hot q_i that is
/// p_i with c_i zeroed. After the last rejection the token is drawn from the final target. By the
/// speculative-sampling lemma each stage returns a sample of its own target: it accepts with
/// mass min(q_i, p_i) and otherwise hands over a sample of the residual, whose mass is exactly
/// what is missing (p_i − min(q_i, p_i) = max(0, p_i − q_i)); by induction from the last stage the
/// whole procedure returns a sample of P. With one candidate it is the ordinary SJD rule.
/// Candidates drawn from one q without replacement (<see cref="TryAcceptWithoutReplacement"/>)
/// have q_i = q without the earlier candidates, renormalised: their exact law given them.
/// Owns its buffers: nothing is allocated per call.
/// </summary>
internal sealed class CandidateVerifier
{
    // As in SpeculativeVerifier: a residual below this is rounding noise of p ≈ q, not a distribution.
    private const float ResidualFloor = 1e-6f;

    private readonly float[] _target, _original, _proposal;
    private int _length;
    private float _mass, _proposalMass;
    private bool _proposalSet;

    public CandidateVerifier(int codebook, bool acceptEveryCandidate = false)
    {
        _target = new float[codebook];
        _original = new float[codebook];
        _proposal = new float[codebook];
        AcceptEveryCandidate = acceptEveryCandidate;
    }

    /// <summary>Test hook: accept every candidate (a deliberately wrong verifier).</summary>
    internal bool AcceptEveryCandidate { get; }

    /// <summary>Starts the verification of one slot against its (normalised) distribution <paramref name="p"/>.</summary>
    public void Begin(ReadOnlySpan<float> p)
    {
        _length = p.Length;
        p.CopyTo(_target);
        p.CopyTo(_original);
        // p sums to 1 up to rounding; taking 1 makes one candidate bit-identical to SpeculativeVerifier.
        _mass = 1f;
        _proposalSet = false;
    }

    /// <summary>
    /// Whether <paramref name="candidate"/>, drawn from <paramref name="q"/> (empty = one-hot) given
    /// the candidates already rejected, is accepted; on rejection the target becomes the residual.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool TryAccept(int candidate, ReadOnlySpan<float> q, SeededRandom rng)
    {
        if (AcceptEveryCandidate) return true;
        // Earlier stages accept with probability 1 up to rounding: nothing is left to verify against.
        if (!(_mass > ResidualFloor)) return false;
        var target = _target.AsSpan(0, _length);
        float pc = target[candidate] / _mass, qc = q.IsEmpty ? 1f : q[candidate];
        if (pc >= qc || rng.NextDouble() * qc < pc) return true;
        if (q.IsEmpty)
        {
            // max(0, p − one-hot(c)) is p without c (p(c) ≤ 1); the mass is recomputed against drift.
            target[candidate] = 0;
        }
        else
        {
            SubtractFromTarget(q, 1f);
        }
        _mass = TensorPrimitives.Sum(target);
        return false;
    }

    /// <summary>
    /// Whether <paramref name="candidate"/> is accepted, where this slot's candidates are drawn from
    /// one distribution <paramref name="q"/> without replacement: the first from q, each later one
    /// from q without the candidates before it, renormalised. On rejection the target becomes the
    /// residual against that law and the candidate leaves it. One candidate is
    /// <see cref="TryAccept"/> with the same q, bit for bit.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool TryAcceptWithoutReplacement(int candidate, ReadOnlySpan<float> q, SeededRandom rng)
    {
        if (AcceptEveryCandidate) return true;
        if (!(_mass > ResidualFloor)) return false;
        var target = _target.AsSpan(0, _length);
        var proposal = _proposal.AsSpan(0, _length);
        // Until the first rejection the law is q itself: no copy on the common path.
        float scale = _proposalSet ? 1f / _proposalMass : 1f;
        var law = _proposalSet ? proposal : q;
        float pc = target[candidate] / _mass, qc = law[candidate] * scale;
        if (pc >= qc || rng.NextDouble() * qc < pc) return true;
        SubtractFromTarget(law, scale);
        _mass = TensorPrimitives.Sum(target);
        if (!_proposalSet)
        {
            q.CopyTo(proposal);
            _proposalSet = true;
        }
        proposal[candidate] = 0;
        _proposalMass = TensorPrimitives.Sum(proposal);
        return false;
    }

    // The target becomes max(0, p_i − scale·law), p_i the target normalised: the residual of a rejection.
    // (x·(−1) + t is t − x exactly, so scale 1 matches a plain subtraction bit for bit.)
    private void SubtractFromTarget(ReadOnlySpan<float> law, float scale)
    {
        var target = _target.AsSpan(0, _length);
        TensorPrimitives.Multiply(target, 1f / _mass, target);
        TensorPrimitives.MultiplyAdd(law, -scale, target, target);
        TensorPrimitives.Max(target, 0f, target);
    }

    /// <summary>The token after every candidate was rejected: a sample of the final residual, or of P when it is (numerically) empty.</summary>
    public int Finish(SeededRandom rng) =>
        _mass > ResidualFloor && float.IsFinite(_mass) ? Categorical.Sample(_target.AsSpan(0, _length), rng) : Categorical.Sample(_original.AsSpan(0, _length), rng);
}
