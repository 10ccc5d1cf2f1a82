namespace Sjd2Onnx;

/// <summary>How SJD++ lets a draft that was not committed survive into the next pass (both rules are lossless).</summary>
public enum DraftReuse
{
    /// <summary>
    /// Keep the old draft d with probability min(1, P_new(d)/q_old(d)), else draw from the residual
    /// max(0, P_new − q_old): the new draft is distributed exactly as P_new (as in plain SJD) but
    /// equals the old one as often as possible, so the drafts after it, which were predicted from
    /// it, stay consistent.
    /// </summary>
    Coupled,

    /// <summary>
    /// Keep the old draft d if P_new(d) ≥ τ, else draw from P_new; verified against the mixture
    /// q_old(x)·[P_new(x) ≥ τ] + P_new(x)·Σ_y q_old(y)·[P_new(y) &lt; τ].
    /// </summary>
    Threshold,
}
