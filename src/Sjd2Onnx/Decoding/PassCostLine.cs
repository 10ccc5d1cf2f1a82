namespace Sjd2Onnx.Decoding;

/// <summary>
/// The wall time of an iteration per window of <see cref="WindowTuner"/>'s ladder, and the straight
/// line (fixed cost plus a cost per fed token) that fits them: a pass on a CPU or GPU costs about that.
/// </summary>
internal sealed class PassCostLine(int[] windows)
{
    private readonly double[] _seconds = new double[windows.Length];
    private readonly int[] _iterations = new int[windows.Length];

    /// <summary>Records one iteration on the ladder's window <paramref name="arm"/>.</summary>
    public void Add(int arm, double seconds)
    {
        _seconds[arm] += seconds;
        _iterations[arm]++;
    }

    /// <summary>Least squares of the mean iteration time against the window, each window weighted by its iterations; false until two windows are measured.</summary>
    public bool Fit(out double fixedCost, out double perToken)
    {
        double n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
        int measured = 0;
        for (int arm = 0; arm < windows.Length; arm++)
        {
            if (_iterations[arm] == 0) continue;
            double x = windows[arm], y = _seconds[arm] / _iterations[arm], weight = _iterations[arm];
            measured++;
            n += weight; sx += weight * x; sy += weight * y; sxx += weight * x * x; sxy += weight * x * y;
        }
        double denominator = n * sxx - sx * sx;
        perToken = measured >= 2 && denominator > 0 ? Math.Max(0, (n * sxy - sx * sy) / denominator) : 0;
        fixedCost = measured >= 2 ? (sy - perToken * sx) / n : 0;
        return measured >= 2 && fixedCost > 0;
    }
}
