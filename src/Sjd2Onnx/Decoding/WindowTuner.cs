namespace Sjd2Onnx.Decoding;

/// <summary>
/// Picks the window of <c>--window auto</c>: the W that maximises expected committed tokens per
/// second. Cost: the wall time of one decoder iteration (pass plus host work) fitted as
/// c(W) = α + β·W by least squares with forgetting, from the iterations actually run (the first
/// few probe different windows so both terms are known). Acceptance: each draft is taken as
/// accepted with probability a (given the previous one was), estimated from the verifications so
/// far with a uniform prior, so a window of W commits E(W) = 1 + a + … + a^(W−1) tokens.
/// W = 1 is plain AR (no drafts): the tuner falls back to it where drafts do not pay, and probes
/// W = 2 now and then so a change in acceptance is noticed. Shared by the generations of one
/// pipeline (costs and acceptance carry over between images), hence the lock.
/// </summary>
internal sealed class WindowTuner
{
    private const double Forget = 0.97;      // per iteration: about the last 30 iterations count
    private const int ExploreEvery = 16;
    private readonly object _lock = new();
    private double _s0, _s1, _s2, _t0, _t1;  // weighted sums of 1, W, W², t, W·t
    private double _alpha = double.NaN, _beta;
    private double _accepted, _rejected;
    private int _probes, _sinceExplore;

    /// <summary>The window for the next iteration, at most <paramref name="maxWindow"/>.</summary>
    public int Choose(int maxWindow)
    {
        lock (_lock)
        {
            if (maxWindow <= 1) return 1;
            // Probe a large and a small window first so the cost line has two ends.
            if (_probes < 2) return _probes == 0 ? maxWindow : Math.Max(2, maxWindow / 4);
            double a = (_accepted + 1) / (_accepted + _rejected + 2);
            int best = 1;
            double bestRate = 0, expected = 0, power = 1;
            for (int w = 1; w <= maxWindow; w++)
            {
                expected += power;   // E(w) = Σ_{i<w} a^i
                power *= a;
                double rate = expected / Math.Max(1e-9, _alpha + _beta * w);
                if (rate > bestRate) { bestRate = rate; best = w; }
            }
            if (best == 1 && ++_sinceExplore >= ExploreEvery) { _sinceExplore = 0; return 2; }
            return best;
        }
    }

    /// <summary>Records one iteration: its window, wall time, and the drafts accepted and rejected (forced slots excluded).</summary>
    public void Record(int window, double seconds, int accepted, int rejected)
    {
        lock (_lock)
        {
            _probes++;
            _s0 = _s0 * Forget + 1; _s1 = _s1 * Forget + window; _s2 = _s2 * Forget + (double)window * window;
            _t0 = _t0 * Forget + seconds; _t1 = _t1 * Forget + window * seconds;
            double det = _s0 * _s2 - _s1 * _s1;
            // With one window size in the recent history the slope is unknown: keep the last one.
            if (det > 1e-6 * _s0 * _s0)
            {
                _beta = Math.Max(0, (_s0 * _t1 - _s1 * _t0) / det);
            }
            _alpha = Math.Max(1e-9, (_t0 - _beta * _s1) / _s0);
            if (window > 1)
            {
                _accepted = _accepted * Forget + accepted;
                _rejected = _rejected * Forget + rejected;
            }
        }
    }
}
