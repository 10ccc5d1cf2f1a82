using Sjd2Onnx.Decoding;

namespace Sjd2Onnx.Tests;

/// <summary>The <c>--window auto</c> hill climb on synthetic costs and acceptance (no timing noise).</summary>
public sealed class SpeculativeWindowTunerTests
{
    [Fact]
    public void SettlesOnArWhenDraftsDoNotPay()
    {
        // Every pass commits one token whatever the window; wider passes cost more.
        var tuner = new WindowTuner();
        var (_, share) = Run(tuner, 64, 2000, w => (1, 1e-3 * (1 + 0.2 * w)));
        Assert.True(share[1] > 0.7, $"window 1 used for {share[1]:P0} of the last iterations");
    }

    [Fact]
    public void ClimbsToTheBestWindow()
    {
        // Committed grows with the window up to 16, cost grows slowly: the best rate is at 16.
        var tuner = new WindowTuner();
        var (mostUsed, _) = Run(tuner, 64, 3000, w => (Math.Min(w, 16) * 0.5 + 0.5, 1e-3 * (1 + 0.02 * w)));
        Assert.Equal(16, mostUsed);
    }

    [Fact]
    public void NeverExceedsTheLimit()
    {
        var tuner = new WindowTuner();
        var (_, share) = Run(tuner, 5, 500, w => (w, 1e-3));
        Assert.All(share.Keys, w => Assert.InRange(w, 1, 5));
    }

    // Runs the tuner against a synthetic (committed, seconds) per window; returns the window used
    // most in the second half and each window's share of it.
    private static (int MostUsed, Dictionary<int, double> Share) Run(WindowTuner tuner, int max, int iterations, Func<int, (double Committed, double Seconds)> model)
    {
        var counts = new Dictionary<int, int>();
        for (int i = 0; i < iterations; i++)
        {
            int w = tuner.Choose(max);
            var (committed, seconds) = model(w);
            tuner.Record(w, seconds, (int)Math.Round(committed));
            if (i >= iterations / 2) counts[w] = counts.GetValueOrDefault(w) + 1;
        }
        int total = counts.Values.Sum();
        var share = counts.ToDictionary(p => p.Key, p => p.Value / (double)total);
        share.TryAdd(1, 0);
        return (counts.MaxBy(p => p.Value).Key, share);
    }
}
