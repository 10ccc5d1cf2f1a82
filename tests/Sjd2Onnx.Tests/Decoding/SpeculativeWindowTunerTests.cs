using Sjd2Onnx.Decoding;

namespace Sjd2Onnx.Tests;

/// <summary>The <c>--window auto</c> hill climb on synthetic costs and acceptance, without noise and with the scatter and image-position effects measured on the default model.</summary>
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
    public void FallsToArWithinAnImageWhenWidePassesCostMore()
    {
        // Random-weight GPT-B with 4-bit weights on two cores: drafts are almost never accepted
        // and a 16-token pass costs three AR passes. Within the first 256 iterations (one image),
        // most of the second half must run AR or window 2.
        var random = new Random(11);
        var (_, share) = Run(new WindowTuner(), 64, 256,
            w => (random.NextDouble() < 0.05 ? 2 : 1, 1e-3 * (1 + 0.133 * (w - 1)) * Math.Exp(0.1 * Gaussian(random))));
        Assert.True(share[1] + share.GetValueOrDefault(2) > 0.8, Describe(share));
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

    [Fact]
    public void StaysOnAFlatOptimumDespiteNoise()
    {
        // Windows 12–24 are equally fast, the rest 20 % slower; per-iteration scatter and a
        // threefold swing of acceptance along each 30-iteration "image" (what made the old tuner
        // wander off) must cost at most 3 % of the rate, probes included.
        Func<int, double> rate = w => w is >= 12 and <= 24 ? 1.0 : 0.8;
        var (_, share) = Run(new WindowTuner(), 64, 6000, Noisy(new Random(3), rate));
        double efficiency = share.Sum(p => p.Value * rate(p.Key));
        Assert.True(efficiency >= 0.97, $"{efficiency:P1} of the best rate; {Describe(share)}");
    }

    [Fact]
    public void ClimbsThroughNoiseWhenLargerWindowsPay()
    {
        // As on a GPU: wider passes cost little, so the rate keeps growing to the limit of 64.
        var tuner = new WindowTuner();
        var (mostUsed, share) = Run(tuner, 64, 8000, Noisy(new Random(5), w => Math.Pow(w / 16.0, 0.5)));
        Assert.True(mostUsed == 64, Describe(share));
    }

    // Iteration i at window w, shaped like the default model's passes: a pass commits one slot
    // (a rejection at the first draft) with a probability that swings between 5 % and 65 % along
    // each 30-iteration "image", else about w/2 to w slots; wall time is set so that the expected
    // rate is proportional to relativeRate(w). Adjacent 6-pass stretches then differ by a factor
    // of about 2 (one standard deviation of the log), as measured.
    private static Func<int, int, (double Committed, double Seconds)> Noisy(Random random, Func<int, double> relativeRate) =>
        (i, w) =>
        {
            double stall = 0.35 + 0.3 * Math.Sin(2 * Math.PI * i / 30.0);
            double committed = random.NextDouble() < stall ? 1 : Math.Max(1, Math.Round(w * (0.5 + 0.5 * random.NextDouble())));
            double seconds = 1e-3 * w / relativeRate(w) * Math.Exp(0.05 * Gaussian(random));
            return (committed, seconds);
        };

    private static string Describe(Dictionary<int, double> share) =>
        "share of the last iterations by window: " + string.Join(", ", share.OrderBy(p => p.Key).Select(p => $"{p.Key}: {p.Value:P1}"));

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    // Runs the tuner against a synthetic (committed, seconds) per window; returns the window used
    // most in the second half and each window's share of it.
    private static (int MostUsed, Dictionary<int, double> Share) Run(WindowTuner tuner, int max, int iterations, Func<int, (double Committed, double Seconds)> model) =>
        Run(tuner, max, iterations, (_, w) => model(w));

    private static (int MostUsed, Dictionary<int, double> Share) Run(WindowTuner tuner, int max, int iterations, Func<int, int, (double Committed, double Seconds)> model)
    {
        var counts = new Dictionary<int, int>();
        for (int i = 0; i < iterations; i++)
        {
            int w = tuner.Choose(max);
            var (committed, seconds) = model(i, w);
            tuner.Record(w, seconds, (int)Math.Round(committed));
            if (i >= iterations / 2) counts[w] = counts.GetValueOrDefault(w) + 1;
        }
        int total = counts.Values.Sum();
        var share = counts.ToDictionary(p => p.Key, p => p.Value / (double)total);
        share.TryAdd(1, 0);
        return (counts.MaxBy(p => p.Value).Key, share);
    }
}
