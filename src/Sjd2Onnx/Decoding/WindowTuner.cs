namespace Sjd2Onnx.Decoding;

/// <summary>
/// Picks the window of <c>--window auto</c> by measuring what it maximises: committed tokens per
/// second of wall time, on this hardware, under the current load, with this model's acceptance.
/// Windows come from a ladder (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, …). The tuner runs in epochs of
/// <see cref="EpochLength"/> iterations on one window and keeps, per window, a moving average of
/// the epoch's rate (slots committed / wall time of its iterations, pass plus host work). One
/// epoch in four (one in two for the first 24) probes a neighbour of the best window, alternately larger and smaller: a hill
/// climb that follows changes in load and acceptance; the best window moves to a neighbour as
/// soon as that one's rate is higher. Epochs rather than single probes because Jacobi drafts need a few passes in a window to
/// converge: a one-pass probe of a larger window sees only fresh drafts at its new positions and
/// undervalues it; the first iterations of each epoch are not counted for the same reason.
/// Window 1 is plain AR (no drafts), so where drafts do not pay the tuner settles there and pays
/// only its probes of window 2. Shared by the generations of one pipeline (what it learnt carries
/// over between images), hence the lock.
/// </summary>
internal sealed class WindowTuner
{
    private static readonly int[] Ladder = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256];
    private const int EpochLength = 8;
    private const int Transition = 2;       // iterations at the start of an epoch left out of its rate
    private const double Smoothing = 0.5;   // weight of the newest epoch in a window's average
    private const int StartWindow = 8;
    private const int LearningEpochs = 24;
    private const double Margin = 1.05;     // a neighbour must be 5 % faster to take over      // a middle start: cheap if drafts do not pay, quick to climb if they do

    private readonly object _lock = new();
    private readonly double[] _rate = new double[Ladder.Length];
    private readonly int[] _epochs = new int[Ladder.Length];
    private int _best = -1, _arm, _left, _cycle;
    private double _committed, _seconds;

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
                // New epoch: three on the best window, one on the larger neighbour, three on the
                // best, one on the smaller neighbour, …; twice as many probes while learning.
                int cycle = _cycle < LearningEpochs ? 4 : 8;
                int phase = _cycle++ % cycle;
                int arm = phase == cycle / 2 - 1 ? _best + 1 : phase == cycle - 1 ? _best - 1 : _best;
                if (arm < 0 || arm > top) arm = _best;
                _arm = arm;
                _left = EpochLength;
                _committed = _seconds = 0;
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
                _committed += committed;
                _seconds += seconds;
            }
            if (--_left > 0 || _seconds <= 0) return;
            double rate = _committed / _seconds;
            _rate[_arm] = _epochs[_arm] == 0 ? rate : _rate[_arm] + Smoothing * (rate - _rate[_arm]);
            _epochs[_arm]++;
            // The best window is the best measured among itself and its neighbours (their averages
            // may be older); a neighbour must beat it by a margin, so epoch-to-epoch noise does not
            // walk the window away from a flat optimum (or from AR where drafts do not pay).
            int best = _best < 0 || _epochs[_best] == 0 ? _arm : _best, current = best;
            for (int i = Math.Max(0, current - 1); i <= Math.Min(Ladder.Length - 1, current + 1); i++)
                if (i != current && _epochs[i] > 0 && _rate[i] > _rate[current] * Margin && _rate[i] > _rate[best]) best = i;
            _best = best;
        }
    }

    // The largest ladder window not above w.
    private static int Arm(int w)
    {
        int i = 0;
        while (i + 1 < Ladder.Length && Ladder[i + 1] <= w) i++;
        return i;
    }
}
