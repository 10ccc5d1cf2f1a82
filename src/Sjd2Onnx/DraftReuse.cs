namespace Sjd2Onnx;

/// <summary>How a draft that was not committed survives into the next pass: SJD++ takes any rule, SJD2 <see cref="Coupled"/> or <see cref="None"/> (every rule is lossless).</summary>
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

    /// <summary>
    /// Plain Jacobi resampling: every draft not committed is replaced by a fresh sample of P_new, as
    /// SJD and the published SJD2 do. <c>sjd++</c> with this rule is <c>sjd</c>.
    /// </summary>
    None,
}
