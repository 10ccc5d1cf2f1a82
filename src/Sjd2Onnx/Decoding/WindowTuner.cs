namespace Sjd2Onnx.Decoding;

/// <summary>
/// Picks the window of <c>--window auto</c> by measuring what it wants to maximise: committed
/// tokens per second of wall time. For each window on a ladder (1, 2, 3, 4, 5, 6, 8, 10, 12, 16,
/// …) it keeps moving averages of the slots committed per iteration and of the iteration's wall
/// time (pass plus host work), both observed on this hardware under the current load and with
/// this model's acceptance. Every iteration runs the best window so far, except every fourth,
/// which tries a neighbour on the ladder (alternately smaller and larger): a hill climb that
/// follows changes in load or acceptance. Window 1 is plain AR (no drafts) and is on the ladder,
/// so where drafts do not pay for their cost the tuner settles there — never slower than AR by
/// more than the occasional probe. A simpler model (cost α + β·W, geometric acceptance) was
/// tried first and misjudged both: Jacobi drafts get better the longer they stay in a large
/// window, and sub-millisecond timings are too noisy to fit a line to. Shared by the generations
/// of one pipeline (what it learnt carries over between images), hence the lock.
/// </summary>
internal sealed class WindowTuner
{
    private static readonly int[] Ladder = [1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 32, 40, 48, 64, 80, 96, 128, 160, 192, 256];
    private const double Smoothing = 0.2;  // weight of the newest observation
    private const int ExploreEvery = 4;
    private const int StartWindow = 8;     // a middle start: cheap if drafts do not pay, quick to climb if they do

    private readonly object _lock = new();
    private readonly double[] _committed = new double[Ladder.Length];
    private readonly double[] _seconds = new double[Ladder.Length];
    private readonly int[] _count = new int[Ladder.Length];
    private int _best = -1, _iteration;
    private bool _up;

    /// <summary>The window for the next iteration, at most <paramref name="maxWindow"/>.</summary>
    public int Choose(int maxWindow)
    {
        lock (_lock)
        {
            int top = Arm(maxWindow);
            if (_best < 0) _best = Arm(Math.Min(StartWindow, maxWindow));
            int best = Math.Min(_best, top);
            for (int i = 0; i <= top; i++)
                if (_count[i] > 0 && Rate(i) > Rate(best)) best = i;
            _best = best;
            if (++_iteration % ExploreEvery == 0)
            {
                _up = !_up;
                int j = _up ? best + 1 : best - 1;
                if (j < 0 || j > top) j = _up ? best - 1 : best + 1;
                if (j >= 0 && j <= top) return Ladder[j];
            }
            return Ladder[best];
        }
    }

    /// <summary>Records one iteration: tokens fed, wall time, and slots committed.</summary>
    public void Record(int fed, double seconds, int committed)
    {
        lock (_lock)
        {
            // Near the end of the image the window shrinks: the iteration counts for the window actually fed.
            int i = Arm(fed);
            // An arm's first iteration often carries one-time costs (JIT, first touch of buffers):
            // the second replaces it. Later outliers (a neighbour's burst of load) are clipped.
            if (_count[i] <= 1) { _committed[i] = committed; _seconds[i] = seconds; }
            else
            {
                _committed[i] += Smoothing * (committed - _committed[i]);
                _seconds[i] += Smoothing * (Math.Clamp(seconds, _seconds[i] / 4, _seconds[i] * 4) - _seconds[i]);
            }
            _count[i]++;
        }
    }

    private double Rate(int i) => _count[i] == 0 ? double.NegativeInfinity : _committed[i] / Math.Max(1e-9, _seconds[i]);

    // The largest ladder window not above w.
    private static int Arm(int w)
    {
        int i = 0;
        while (i + 1 < Ladder.Length && Ladder[i + 1] <= w) i++;
        return i;
    }
}
