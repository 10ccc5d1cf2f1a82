namespace Sjd2Onnx.Decoding;

/// <summary>
/// Picks the window of <c>--window auto</c> by measuring what it maximises: committed tokens per
/// second of wall time, on this hardware, under the current load, with this model's acceptance.
/// Windows come from a ladder (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, …). The tuner runs in epochs of
/// <see cref="EpochLength"/> iterations on one window; an epoch's rate is the slots committed over
/// the wall time of its iterations (pass plus host work), its first iterations left out (Jacobi
/// drafts need a few passes in a new window to converge). Most epochs run the best window; one in
/// four (one in two while learning) probes a neighbour on the ladder, alternately larger and
/// smaller.
/// A probe is judged against the best window's epochs just before and just after it, not against
/// an average from other times: acceptance changes along an image (hard rows, easy background)
/// and load changes over time, and both move the three epochs together. The log ratio of each
/// probe to its two neighbours is a paired sample (each epoch's rate first divided by how easy its
/// stretch of the image was, see <see cref="Record"/>); the best window moves to a neighbour once
/// the mean of its samples is at least <see cref="MinimumGain"/> and significantly above zero
/// (Student's t at 97.5 %).
/// Without that test the window followed noise: where the optimum is flat the tuner walked off it
/// (docs/decoding.md has the measurements). A neighbour shown slower is probed a quarter as often.
/// It starts at the speculative methods' fixed default, 16, so that one image with auto costs what
/// it costs with the default plus a few probes. Window 1 is plain AR (no drafts): where drafts do
/// not pay, a prediction from the measured pass costs and committed counts jumps down to it
/// (<see cref="PredictedJump"/>) instead of walking the ladder rung by rung. Shared by the generations of one pipeline (what it learnt
/// carries over between images), hence the lock.
/// </summary>
internal sealed class WindowTuner
{
    private static readonly int[] Ladder = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256];
    internal const int EpochLength = 8;
    private const int Transition = 2;       // iterations at the start of an epoch left out of its rate
    private const int StartWindow = GenerationOptions.DefaultWindow;
    private const int LearningEpochs = 16;  // probe every other epoch until then
    private const int MinimumProbes = 3;
    private const double MinimumGain = 0.03; // log ratio: a neighbour must be about 3 % faster
    private const int SlowerProbeSkip = 4;   // a neighbour shown slower gets one probe in this many
    private const double JumpGain = 0.25;    // a predicted jump must promise this much more rate
    private const int JumpSpacing = 32;      // epochs between predicted jumps
    private const double JumpBelowCommitted = 2; // jumps only where passes commit at most this on average

    private readonly object _lock = new();
    private readonly PairedSamples[] _samples = new PairedSamples[Ladder.Length];
    private readonly long[][] _committedCounts = new long[Ladder.Length][]; // per window: iterations by slots committed
    private int _best = -1, _arm, _left, _epochs, _probes;
    private double _seconds;
    private TunerEpoch _current = new(), _lastBest = new(), _probe = new();
    private bool _haveLastBest;                  // _lastBest holds a completed epoch on the best window
    private int _pendingArm = -1;                // _probe's arm, waiting for the best window's next epoch
    private readonly PassCostLine _costs = new(Ladder);
    private int _lastJump = int.MinValue / 2;    // epoch of the last model-predicted jump

    /// <summary>The window for the next iteration, at most <paramref name="maxWindow"/>.</summary>
    public int Choose(int maxWindow)
    {
        lock (_lock)
        {
            int top = Arm(maxWindow);
            if (_best < 0) _best = Arm(Math.Min(StartWindow, maxWindow));
            _best = Math.Min(_best, top);
            if (_left <= 0)
            {
                _arm = NextArm(top);
                _left = EpochLength;
                _current.Clear();
                _seconds = 0;
                _epochs++;
            }
            return Ladder[Math.Min(_arm, top)];
        }
    }

    /// <summary>Records one iteration: tokens fed, wall time, and slots committed.</summary>
    public void Record(int fed, double seconds, int committed)
    {
        lock (_lock)
        {
            // Iterations where the window shrank (end of an image) say nothing about this window.
            if (EpochLength - _left >= Transition && Arm(fed) == _arm)
            {
                _current.Add(committed);
                _seconds += seconds;
                _costs.Add(_arm, seconds);
                (_committedCounts[_arm] ??= new long[Ladder[_arm] + 1])[Math.Clamp(committed, 0, Ladder[_arm])]++;
            }
            if (--_left > 0 || _seconds <= 0) return;
            _current.Rate = _current.Committed / _seconds;
            if (_arm != _best)
            {
                // A probe: judged once the best window's next epoch has run. Only one after a
                // completed epoch on the best window has a "before".
                _pendingArm = _haveLastBest ? _arm : -1;
                (_probe, _current) = (_current, _probe);
                return;
            }
            if (_pendingArm >= 0)
            {
                int probe = _pendingArm;
                _pendingArm = -1;
                // Each epoch's rate divided by how easy its stretch of the image was: its mean of
                // min(committed, c), c half the smaller window. Adjacent epochs on one window
                // differed by a factor of 2.2 (one standard deviation of the log) on the default
                // model; divided so, by 1.25. A wider window also commits more within c, so the
                // ratio is multiplied back by the two windows' long-run means of the same measure:
                // the position effect goes, the window's own effect stays.
                int cap = Math.Max(1, Math.Min(Ladder[_best], Ladder[probe]) / 2);
                double before = _lastBest.Rate / _lastBest.Ease(cap), after = _current.Rate / _current.Ease(cap);
                double ratio = _probe.Rate / _probe.Ease(cap) / (0.5 * (before + after))
                    * LongRunEase(probe, cap) / LongRunEase(_best, cap);
                _samples[probe].Add(Math.Log(ratio));
                if (_samples[probe].ShowsGain(MinimumProbes, MinimumGain))
                {
                    MoveTo(probe);
                    return;
                }
            }
            (_lastBest, _current) = (_current, _lastBest);
            _haveLastBest = true;
            if (PredictedJump() is int jump) MoveTo(jump);
        }
    }

    // Hill climbing moves one rung per few probes: from 16 down to 1 that is dozens of epochs, a
    // whole image where drafts never pay (random weights, quantized models whose wide passes are
    // compute-bound). Where passes commit at most two slots on average, the climb is shortcut by a
    // prediction for every smaller window: the slots it would commit come from the best window's
    // committed counts cut at its width, its pass cost from a straight line fitted to the costs of
    // every window measured so far. A predicted gain of a quarter jumps there at once; the paired
    // probes then take over, and a jump they undo is not repeated soon.
    private int? PredictedJump()
    {
        if (_epochs - _lastJump < JumpSpacing || _committedCounts[_best] is null
            || LongRunEase(_best, Ladder[_best]) > JumpBelowCommitted || !_costs.Fit(out double fixedCost, out double perToken))
            return null;
        double Rate(int arm)
        {
            // The anchor's slot is always committed; the drafts' share is scaled down with the
            // width, as a narrower window's drafts are younger: a low estimate, so that a jump
            // is only taken where drafts clearly do not pay for their width.
            double extra = (LongRunEase(_best, Ladder[arm]) - 1) * Ladder[arm] / Ladder[_best];
            return (1 + extra) / Math.Max(1e-12, fixedCost + perToken * Ladder[arm]);
        }
        int best = _best;
        for (int arm = 0; arm < _best; arm++)
            if (Rate(arm) > Rate(best)) best = arm;
        if (best == _best || Rate(best) < (1 + JumpGain) * Rate(_best)) return null;
        _lastJump = _epochs;
        return best;
    }

    // A probe epoch (a neighbour of the best window, alternately above and below) or the best window.
    private int NextArm(int top)
    {
        bool probe = _epochs < LearningEpochs ? _epochs % 2 == 1 : _epochs % 4 == 3;
        if (!probe || !_haveLastBest) return _best;
        for (int attempt = 0; attempt < 2; attempt++)
        {
            int arm = _probes++ % 2 == 0 ? _best + 1 : _best - 1;
            if (arm < 0 || arm > top) continue;
            // A neighbour measured slower is only re-checked now and then (load and acceptance change).
            if (_samples[arm].ShowsLoss(MinimumProbes) && ++_samples[arm].Skipped % SlowerProbeSkip != 0) continue;
            return arm;
        }
        return _best;
    }

    private void MoveTo(int arm)
    {
        int previous = _best;
        _best = arm;
        Array.Clear(_samples);
        // The window just left was measured slower: seed that, so the climb goes on in its direction.
        _samples[previous] = PairedSamples.Slower(MinimumProbes, MinimumGain);
        _haveLastBest = false;
    }

    // Mean of min(committed, cap) over every counted iteration on a window.
    private double LongRunEase(int arm, int cap)
    {
        long[] counts = _committedCounts[arm]!;
        double sum = 0, total = 0;
        for (int k = 0; k < counts.Length; k++)
        {
            sum += (double)Math.Min(k, cap) * counts[k];
            total += counts[k];
        }
        return sum / total;
    }

    // The largest ladder window not above w.
    private static int Arm(int w)
    {
        int i = 0;
        while (i + 1 < Ladder.Length && Ladder[i + 1] <= w) i++;
        return i;
    }
}
