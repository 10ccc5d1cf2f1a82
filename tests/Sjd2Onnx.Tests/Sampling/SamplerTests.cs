using Sjd2Onnx.Sampling;

namespace Sjd2Onnx.Tests;

/// <summary>DistributionBuilder, Categorical and SeededRandom against hand-computed cases.</summary>
public class SamplerTests
{
    private const double Tol = 1e-6;

    private static float[] Build(SamplingSettings s, float[] cond, float[]? uncond = null)
    {
        var probs = new float[cond.Length];
        new DistributionBuilder(s, cond.Length).Build(cond, uncond ?? [], probs);
        return probs;
    }

    private static double[] Softmax(params double[] x)
    {
        double max = x.Max();
        var e = x.Select(v => double.IsNegativeInfinity(v) ? 0 : Math.Exp(v - max)).ToArray();
        double sum = e.Sum();
        return e.Select(v => v / sum).ToArray();
    }

    private static void AssertProbs(double[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(float.IsFinite(actual[i]), $"p[{i}] = {actual[i]}");
            Assert.True(Math.Abs(expected[i] - actual[i]) <= Tol, $"p[{i}]: expected {expected[i]:G9}, got {actual[i]:G9}\nall: [{string.Join(", ", actual)}]");
        }
        Assert.True(Math.Abs(actual.Sum() - 1) < 1e-5, $"sums to {actual.Sum()}");
    }

    [Fact]
    public void PlainSoftmax()
    {
        AssertProbs(Softmax(1, 2, 3, 0), Build(new(1, 1, 0, 1), [1, 2, 3, 0]));
    }

    [Fact]
    public void CfgMixesUnconditionalPlusScaleTimesDifference()
    {
        // u + s(c − u) with s = 2: [0+2·1, 1+2·1, 5+2·(−2)] = [2, 3, 1]
        AssertProbs(Softmax(2, 3, 1), Build(new(2, 1, 0, 1), [1, 2, 3], [0, 1, 5]));
        // s = 3.5, a different mix: u + 3.5(c − u) = [−1+3.5·1.5, 2+3.5·(−2), 0.25+3.5·0] = [4.25, −5, 0.25]
        AssertProbs(Softmax(4.25, -5, 0.25), Build(new(3.5f, 1, 0, 1), [0.5f, 0, 0.25f], [-1, 2, 0.25f]));
        // s = 0 gives the unconditional distribution; s = 1 ignores it.
        AssertProbs(Softmax(0, 1, 5), Build(new(0, 1, 0, 1), [1, 2, 3], [0, 1, 5]));
        AssertProbs(Softmax(1, 2, 3), Build(new(1, 1, 0, 1), [1, 2, 3], [0, 1, 5]));
    }

    [Fact]
    public void TemperatureDividesLogits()
    {
        AssertProbs(Softmax(2, 4, 6, 0), Build(new(1, 0.5f, 0, 1), [1, 2, 3, 0]));
        AssertProbs(Softmax(0.5, 1, 1.5, 0), Build(new(1, 2, 0, 1), [1, 2, 3, 0]));
        // Guidance first, then temperature: ([2,3,1]) / 0.25
        AssertProbs(Softmax(8, 12, 4), Build(new(2, 0.25f, 0, 1), [1, 2, 3], [0, 1, 5]));
    }

    [Fact]
    public void TopKKeepsTheKLargest()
    {
        var p = Build(new(1, 1, 2, 1), [1, 3, 2, 0, -1]);
        AssertProbs([0, Softmax(3, 2)[0], Softmax(3, 2)[1], 0, 0], p);
        // k = 1 is greedy.
        AssertProbs([0, 0, 0, 1], Build(new(1, 1, 1, 1), [0.1f, 0.2f, 0.3f, 0.4f]));
        // k ≥ K keeps everything.
        AssertProbs(Softmax(1, 3, 2), Build(new(1, 1, 3, 1), [1, 3, 2]));
        AssertProbs(Softmax(1, 3, 2), Build(new(1, 1, 50, 1), [1, 3, 2]));
    }

    [Fact]
    public void TopKWithTiesKeepsExactlyK()
    {
        // Three codes tie for the largest logit; k = 2 keeps exactly two of them, equally likely.
        var p = Build(new(1, 1, 2, 1), [0, 2, 2, 2, 1]);
        Assert.Equal(2, p.Count(v => v > 0));
        Assert.Equal(0, p[0]);
        Assert.Equal(0, p[4]);
        foreach (var v in p.Where(v => v > 0)) Assert.Equal(0.5, v, 6);
        // A tie at the threshold below a clear winner: 5 kept, plus one of the tied 2s.
        p = Build(new(1, 1, 2, 1), [2, 5, 2, 2, 1]);
        Assert.Equal(2, p.Count(v => v > 0));
        Assert.True(p[1] > 0);
        Assert.Equal(0, p[4]);
        double kept = p[0] + p[2] + p[3];
        Assert.Equal(Softmax(5, 2)[1], kept, 6);
        // All equal: k of them, uniform.
        p = Build(new(1, 1, 3, 1), [7, 7, 7, 7, 7, 7]);
        Assert.Equal(3, p.Count(v => v > 0));
        foreach (var v in p.Where(v => v > 0)) Assert.Equal(1.0 / 3, v, 6);
    }

    [Fact]
    public void TopKWithManyTiesKeepsExactlyKOfTheLargest()
    {
        // Logits from a handful of values, so the k-th largest is almost always tied.
        var rng = new SeededRandom(5);
        for (int trial = 0; trial < 500; trial++)
        {
            int n = 2 + rng.NextInt(40), k = 1 + rng.NextInt(n);
            var logits = new float[n];
            for (int i = 0; i < n; i++) logits[i] = rng.NextInt(4);
            var p = Build(new(1, 1, k, 1), logits);
            int kept = p.Count(v => v > 0);
            Assert.True(kept == k, $"trial {trial}: k = {k} of {n}, kept {kept}: [{string.Join(", ", logits)}]");
            float minKept = Enumerable.Range(0, n).Where(i => p[i] > 0).Min(i => logits[i]);
            float maxDropped = Enumerable.Range(0, n).Where(i => p[i] == 0).Select(i => logits[i]).DefaultIfEmpty(float.NegativeInfinity).Max();
            Assert.True(minKept >= maxDropped, $"trial {trial}: dropped {maxDropped} but kept {minKept}");
            // Equal logits keep equal probabilities.
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++)
                    if (p[i] > 0 && p[j] > 0 && logits[i] == logits[j]) Assert.Equal(p[i], p[j]);
        }
    }

    [Fact]
    public void TopPKeepsTheSmallestSetWithMassAtLeastP()
    {
        float[] logits = [MathF.Log(0.15f), MathF.Log(0.5f), MathF.Log(0.05f), MathF.Log(0.3f)];
        // p = 0.75: {0.5, 0.3} (0.5 alone is not enough), renormalised.
        AssertProbs([0, 0.625, 0, 0.375], Build(new(1, 1, 0, 0.75f), logits));
        // p = 0.45: the top code alone.
        AssertProbs([0, 1, 0, 0], Build(new(1, 1, 0, 0.45f), logits));
        // p = 0.9: needs the third code too.
        AssertProbs([0.15 / 0.95, 0.5 / 0.95, 0, 0.3 / 0.95], Build(new(1, 1, 0, 0.9f), logits));
        // p = 0.99: everything.
        AssertProbs([0.15, 0.5, 0.05, 0.3], Build(new(1, 1, 0, 0.99f), logits));
        // p = 1 is off.
        AssertProbs([0.15, 0.5, 0.05, 0.3], Build(new(1, 1, 0, 1f), logits));
    }

    [Fact]
    public void TopPAtTheExactBoundaryStopsThere()
    {
        // Masses 0.5, 0.25, 0.125, 0.125 are exact in binary: p = 0.75 needs exactly two codes.
        float[] logits = [MathF.Log(0.125f), MathF.Log(0.25f), MathF.Log(0.5f), MathF.Log(0.125f)];
        var p = Build(new(1, 1, 0, 0.75f), logits);
        Assert.Equal(2, p.Count(v => v > 0));
        Assert.Equal(2.0 / 3, p[2], 5);
        Assert.Equal(1.0 / 3, p[1], 5);
    }

    [Fact]
    public void CombinedMatchesAReferenceImplementation()
    {
        var rng = new SeededRandom(42);
        for (int trial = 0; trial < 200; trial++)
        {
            int k = 2 + rng.NextInt(30);
            var cond = new float[k];
            var uncond = new float[k];
            for (int i = 0; i < k; i++)
            {
                cond[i] = (float)(rng.NextGaussian() * 3);
                uncond[i] = (float)(rng.NextGaussian() * 3);
            }
            float cfg = 1 + (float)(rng.NextDouble() * 4);
            float temperature = 0.3f + (float)rng.NextDouble() * 1.5f;
            int topK = rng.NextInt(k + 2);
            float topP = rng.NextInt(4) == 0 ? 1f : 0.2f + (float)rng.NextDouble() * 0.75f;
            var settings = new SamplingSettings(cfg, temperature, topK, topP);
            var actual = Build(settings, cond, uncond);
            var expected = Reference(settings, cond, uncond);
            // The top-p cut can legitimately differ from the reference only when the mass sits within
            // rounding of p; such draws are skipped.
            if (expected.NearBoundary) continue;
            for (int i = 0; i < k; i++)
                Assert.True(Math.Abs(expected.Probs[i] - actual[i]) <= 1e-5,
                    $"trial {trial} ({settings}) p[{i}]: expected {expected.Probs[i]:G7}, got {actual[i]:G7}");
        }
    }

    /// <summary>Straightforward double-precision pipeline: mix, temperature, top-k, softmax, top-p.</summary>
    private static (double[] Probs, bool NearBoundary) Reference(SamplingSettings s, float[] cond, float[] uncond)
    {
        int k = cond.Length;
        var x = new double[k];
        for (int i = 0; i < k; i++) x[i] = ((double)uncond[i] + s.CfgScale * ((double)cond[i] - uncond[i])) / s.Temperature;
        var order = Enumerable.Range(0, k).OrderByDescending(i => x[i]).ToArray();
        if (s.TopK > 0 && s.TopK < k)
            foreach (var i in order.Skip(s.TopK)) x[i] = double.NegativeInfinity;
        var p = Softmax(x);
        bool near = false;
        if (s.TopP < 1)
        {
            double cum = 0;
            int keep = k;
            for (int r = 0; r < k; r++)
            {
                cum += p[order[r]];
                if (Math.Abs(cum - s.TopP) < 1e-4) near = true;
                if (cum >= s.TopP) { keep = r + 1; break; }
            }
            double kept = order.Take(keep).Sum(i => p[i]);
            var q = new double[k];
            foreach (var i in order.Take(keep)) q[i] = p[i] / kept;
            p = q;
        }
        return (p, near);
    }

    [Theory]
    [InlineData(1000f, 1000f, 1000f)]
    [InlineData(-1000f, -1000f, -1000f)]
    [InlineData(1000f, -1000f, 0f)]
    [InlineData(-1000f, 1000f, -1000f)]
    public void ExtremeLogitsStayFinite(float a, float b, float c)
    {
        float[] cond = [a, b, c, -a, 0.5f];
        foreach (var settings in new SamplingSettings[]
                 {
                     new(1, 1, 0, 1), new(3, 1, 0, 1), new(7.5f, 0.1f, 0, 1), new(3, 1, 2, 1), new(3, 1, 0, 0.5f),
                     new(3, 0.05f, 3, 0.9f), new(0, 1, 0, 1),
                 })
        {
            float[] uncond = [-c, a, b, 1000, -1000];
            var p = Build(settings, cond, settings.UsesGuidance ? uncond : null);
            Assert.All(p, v => Assert.True(float.IsFinite(v) && v >= 0 && v <= 1, $"{settings}: [{string.Join(", ", p)}]"));
            Assert.True(Math.Abs(p.Sum() - 1) < 1e-5, $"{settings}: sums to {p.Sum()}");
        }
    }

    [Fact]
    public void ExtremeLogitsGiveTheExpectedMass()
    {
        AssertProbs([1, 0, 0], Build(new(1, 1, 0, 1), [1000, -1000, 0]));
        AssertProbs([0.5, 0.5, 0], Build(new(1, 1, 0, 1), [1000, 1000, -1000]));
        AssertProbs([1 / 3.0, 1 / 3.0, 1 / 3.0], Build(new(1, 1, 0, 1), [-1000, -1000, -1000]));
        // Guidance can push logits far beyond ±1000: u + 3(c − u) = [−1000 + 6000, 1000 − 6000].
        AssertProbs([1, 0], Build(new(3, 1, 0, 1), [1000, -1000], [-1000, 1000]));
    }

    [Fact]
    public void NaNLogitsAreReportedNotSampled()
    {
        Assert.Throws<InvalidOperationException>(() => Build(new(1, 1, 0, 1), [0, float.NaN, 1]));
    }

    [Fact]
    public void InvalidSettingsAreRejected()
    {
        Assert.Throws<Sjd2Exception>(() => new DistributionBuilder(new(1, 0, 0, 1), 4));
        Assert.Throws<Sjd2Exception>(() => new DistributionBuilder(new(1, -1, 0, 1), 4));
        Assert.Throws<Sjd2Exception>(() => new DistributionBuilder(new(1, 1, -1, 1), 4));
        Assert.Throws<Sjd2Exception>(() => new DistributionBuilder(new(1, 1, 0, 0), 4));
        Assert.Throws<Sjd2Exception>(() => new DistributionBuilder(new(1, 1, 0, 1.5f), 4));
        Assert.Throws<Sjd2Exception>(() => new DistributionBuilder(new(float.NaN, 1, 0, 1), 4));
        Assert.Throws<Sjd2Exception>(() => new DistributionBuilder(new(float.PositiveInfinity, 1, 0, 1), 4));
    }

    public static TheoryData<float[]> CategoricalCases() => new()
    {
        new[] { 0.1f, 0f, 0.2f, 0.3f, 0.05f, 0.35f, 0f },
        // Top-k-like: a 515-code book with mass on a few codes, in, across and after whole vectors.
        Sparse(515, (0, 0.05f), (7, 0.1f), (8, 0.15f), (200, 0.2f), (201, 0.02f), (511, 0.08f), (512, 0.3f), (514, 0.1f)),
    };

    private static float[] Sparse(int n, params (int Index, float P)[] entries)
    {
        var probs = new float[n];
        foreach (var (index, p) in entries) probs[index] = p;
        return probs;
    }

    [Theory]
    [MemberData(nameof(CategoricalCases))]
    public void CategoricalFrequenciesMatchProbabilities(float[] probs)
    {
        const int n = 200_000;
        var counts = new int[probs.Length];
        var rng = new SeededRandom(2024);
        for (int i = 0; i < n; i++) counts[Categorical.Sample(probs, rng)]++;
        for (int i = 0; i < probs.Length; i++)
        {
            if (probs[i] == 0) { Assert.Equal(0, counts[i]); continue; }
            double p = probs[i], sigma = Math.Sqrt(p * (1 - p) / n);
            double freq = (double)counts[i] / n;
            Assert.True(Math.Abs(freq - p) <= 5 * sigma, $"code {i}: frequency {freq:F5}, probability {p} (5σ = {5 * sigma:F5})");
        }
    }

    [Fact]
    public void CategoricalHandlesDegenerateInputs()
    {
        var rng = new SeededRandom(1);
        for (int i = 0; i < 100; i++) Assert.Equal(3, Categorical.Sample([0, 0, 0, 1, 0], rng));
        // Unnormalised weights are fine: [1, 3] behaves like [0.25, 0.75].
        int ones = 0;
        for (int i = 0; i < 40_000; i++) ones += Categorical.Sample([1f, 3f], rng);
        Assert.InRange(ones / 40_000.0, 0.75 - 5 * Math.Sqrt(0.75 * 0.25 / 40_000), 0.75 + 5 * Math.Sqrt(0.75 * 0.25 / 40_000));
        Assert.Throws<InvalidOperationException>(() => Categorical.Sample([0f, 0f], rng));
    }

    [Fact]
    public void SeededRandomIsDeterministicPerSeed()
    {
        var a = new SeededRandom(123);
        var b = new SeededRandom(123);
        var c = new SeededRandom(124);
        int differ = 0;
        for (int i = 0; i < 1000; i++)
        {
            ulong x = a.NextUInt64();
            Assert.Equal(x, b.NextUInt64());
            if (x != c.NextUInt64()) differ++;
        }
        Assert.True(differ > 990, $"seeds 123 and 124 gave {1000 - differ} equal draws out of 1000");
        // Mixed calls stay in lockstep too (the Gaussian keeps a spare value).
        a = new SeededRandom(7); b = new SeededRandom(7);
        for (int i = 0; i < 100; i++)
        {
            Assert.Equal(a.NextGaussian(), b.NextGaussian());
            Assert.Equal(a.NextDouble(), b.NextDouble());
            Assert.Equal(a.NextInt(17), b.NextInt(17));
        }
    }

    [Fact]
    public void TopKPathsMatchTheDefinitionOfTheirSteps()
    {
        // Small top-k takes the fused path (one scan, softmax over the k kept logits), larger top-k
        // the quickselect path. Compare both with the definition, computed in double: stable sort by (−logit, index), keep k,
        // softmax, then the shortest prefix with mass ≥ p. Ties, masked (−∞) codes and CFG included.
        var rng = new SeededRandom(17);
        for (int trial = 0; trial < 2000; trial++)
        {
            int n = 2 + rng.NextInt(600);
            // Half the trials take the fused path (k ≤ its limit), half any k (quickselect when larger).
            int k = 1 + rng.NextInt(trial % 2 == 0 ? Math.Min(n - 1, DistributionBuilder.FusedTopKLimit) : n - 1);
            float topP = rng.NextInt(3) == 0 ? 1f : 0.3f + 0.7f * (float)rng.NextDouble();
            float cfg = rng.NextInt(2) == 0 ? 1f : 3f, temperature = rng.NextInt(2) == 0 ? 1f : 0.7f;
            bool coarse = rng.NextInt(2) == 0; // few distinct values: ties at the k-th
            var cond = new float[n];
            var uncond = new float[n];
            for (int i = 0; i < n; i++)
            {
                cond[i] = coarse ? rng.NextInt(5) : (float)(4 * rng.NextGaussian());
                uncond[i] = coarse ? rng.NextInt(5) : (float)(4 * rng.NextGaussian());
                if (cfg == 1f && rng.NextInt(50) == 0) cond[i] = float.NegativeInfinity; // a masked code
            }
            var logits = new double[n];
            for (int i = 0; i < n; i++)
            {
                float mixed = cfg == 1f ? cond[i] : uncond[i] + cfg * (cond[i] - uncond[i]);
                logits[i] = mixed / temperature;
            }
            var order = Enumerable.Range(0, n).OrderByDescending(i => logits[i]).ThenBy(i => i).Take(k).ToArray();
            if (double.IsNegativeInfinity(logits[order[0]])) continue; // nothing finite to keep
            double max = logits[order[0]];
            var e = order.Select(i => double.IsNegativeInfinity(logits[i]) ? 0 : Math.Exp(logits[i] - max)).ToArray();
            double sum = e.Sum();
            int keep = k;
            double cumulative = 0;
            for (int i = 0; i < k && topP < 1f; i++)
            {
                cumulative += e[i] / sum;
                if (cumulative >= topP) { keep = i + 1; break; }
            }
            double kept = e.Take(keep).Sum();
            var expected = new double[n];
            for (int i = 0; i < keep; i++) expected[order[i]] = e[i] / kept;

            var probs = new float[n];
            new DistributionBuilder(new(cfg, temperature, k, topP), n).Build(cond, cfg == 1f ? [] : uncond, probs);
            for (int i = 0; i < n; i++)
                Assert.True(Math.Abs(expected[i] - probs[i]) <= 1e-5,
                    $"trial {trial} (n {n}, k {k}, p {topP}, cfg {cfg}): p[{i}] expected {expected[i]:G9}, got {probs[i]:G9}");
        }
    }

    [Fact]
    public void SmallTopKKeepsTheSameCodesAsOneFullScan()
    {
        // Top-k up to a vector's width skips every vector below a floor taken from the lane
        // maxima. Against the full scan's definition (stable sort by −logit, then index): ties
        // around the k-th value, masked codes, a floor that is −∞ (a lane of masked codes), the
        // largest values all in one vector or in the ragged tail, and lengths around the vector width.
        var rng = new SeededRandom(41);
        for (int trial = 0; trial < 3000; trial++)
        {
            int n = 16 + rng.NextInt(trial % 3 == 0 ? 24 : 600);
            int k = 1 + rng.NextInt(8);
            int shape = rng.NextInt(4);
            var logits = new float[n];
            for (int i = 0; i < n; i++)
            {
                logits[i] = shape switch
                {
                    0 => rng.NextInt(3),                                     // many ties
                    1 => i % 8 == 3 ? float.NegativeInfinity : (float)rng.NextGaussian(), // a masked lane
                    2 => i >= n - n % 8 || i < 8 ? 5 + (float)rng.NextGaussian() : (float)rng.NextGaussian(), // top in the first vector and the tail
                    _ => (float)(4 * rng.NextGaussian()),
                };
            }
            var order = Enumerable.Range(0, n).OrderByDescending(i => logits[i]).ThenBy(i => i).Take(k).ToArray();
            var probs = new float[n];
            new DistributionBuilder(new(1, 1, k, 1), n).Build(logits, [], probs);
            var kept = Enumerable.Range(0, n).Where(i => probs[i] > 0).ToArray();
            var expected = order.Where(i => !float.IsNegativeInfinity(logits[i])).OrderBy(i => i).ToArray();
            Assert.True(expected.SequenceEqual(kept), $"trial {trial} (n {n}, k {k}, shape {shape}): kept [{string.Join(",", kept)}], expected [{string.Join(",", expected)}]");
        }
    }

    [Theory]
    [InlineData(8)]
    [InlineData(90)]
    public void TopKPathsRejectNaNLogits(int topK)
    {
        var logits = Enumerable.Range(0, 100).Select(i => (float)i).ToArray();
        logits[57] = float.NaN;
        var builder = new DistributionBuilder(new(1, 1, topK, 1), logits.Length);
        Assert.Throws<InvalidOperationException>(() => builder.Build(logits, [], new float[logits.Length]));
        // Below every other logit (a vector a small top-k would skip) and in the ragged tail.
        logits[57] = 57;
        logits[3] = float.NaN;
        Assert.Throws<InvalidOperationException>(() => builder.Build(logits, [], new float[logits.Length]));
        logits[3] = 3;
        logits[98] = float.NaN;
        Assert.Throws<InvalidOperationException>(() => builder.Build(logits, [], new float[logits.Length]));
    }

    [Theory]
    [InlineData(192)]
    [InlineData(7)]
    [InlineData(1)]
    public void FillGaussianDrawsStandardNormals(int length)
    {
        // Seeded: the same seed gives the same values.
        var a = new float[length];
        var b = new float[length];
        new SeededRandom(31).FillGaussian(a);
        new SeededRandom(31).FillGaussian(b);
        Assert.Equal(a, b);

        // Moments, the normal's mass within 1, 2 and 3 σ, and no correlation between neighbours
        // (a generator that makes values in pairs, as Box–Muller does, would correlate them).
        var rng = new SeededRandom(5);
        var buffer = new float[length];
        int n = 0;
        double sum = 0, sumSq = 0, sum4 = 0, lag = 0, lagSq = 0;
        var within = new int[3];
        float previous = 0;
        while (n < 400_000)
        {
            rng.FillGaussian(buffer);
            foreach (float g in buffer)
            {
                Assert.True(float.IsFinite(g));
                sum += g; sumSq += g * g; sum4 += (double)g * g * g * g;
                for (int k = 0; k < 3; k++) if (Math.Abs(g) < k + 1) within[k]++;
                if (n > 0) { lag += g * previous; lagSq += (g * g - 1) * (previous * previous - 1); }
                previous = g;
                n++;
            }
        }
        double mean = sum / n, variance = sumSq / n - mean * mean;
        Assert.True(Math.Abs(mean) < 5 / Math.Sqrt(n), $"mean {mean}");
        Assert.True(Math.Abs(variance - 1) < 0.01, $"variance {variance}");
        Assert.True(Math.Abs(sum4 / n - 3) < 0.06, $"fourth moment {sum4 / n}");
        // Pair partners are uncorrelated, and so are their squares (independent, not just orthogonal).
        Assert.True(Math.Abs(lag / n) < 5 / Math.Sqrt(n), $"lag-1 correlation {lag / n}");
        Assert.True(Math.Abs(lagSq / n) < 12 / Math.Sqrt(n), $"lag-1 correlation of squares {lagSq / n}");
        double[] normal = [0.682689, 0.954500, 0.997300];
        for (int k = 0; k < 3; k++)
            Assert.True(Math.Abs((double)within[k] / n - normal[k]) < 0.004, $"within {k + 1} σ: {(double)within[k] / n} against {normal[k]}");
    }

    [Fact]
    public void FillGaussianMatchesTheNormalDistributionIntoTheTails()
    {
        // Chi-square of 10 M draws over 32 bins against the normal's own masses (Simpson's rule on
        // the density): quarter-σ bins in the body, the ziggurat's tail edge r = 3.4426 as a bin
        // edge, and open bins beyond ±4.5 that only the exact tail sampler fills at the right rate.
        // A wrong wedge test, a wrong tail or a truncation shifts tens of bins by many σ.
        var edges = new List<double> { double.NegativeInfinity, -4.5, -4, -3.4426 };
        for (double e = -3; e <= 3.0001; e += 0.25) edges.Add(e);
        edges.AddRange([3.4426, 4, 4.5, double.PositiveInfinity]);
        static double Mass(double a, double b)
        {
            a = Math.Max(a, -12); b = Math.Min(b, 12);
            const int steps = 2000;
            double h = (b - a) / steps, sum = 0;
            for (int i = 0; i <= steps; i++)
                sum += (i == 0 || i == steps ? 1 : i % 2 == 1 ? 4 : 2) * Math.Exp(-0.5 * Math.Pow(a + i * h, 2));
            return sum * h / 3 / Math.Sqrt(2 * Math.PI);
        }

        const int n = 10_000_000;
        var counts = new long[edges.Count - 1];
        var rng = new SeededRandom(77);
        var buffer = new float[192];
        for (int drawn = 0; drawn < n; drawn += buffer.Length)
        {
            rng.FillGaussian(buffer);
            foreach (float g in buffer)
            {
                int bin = edges.BinarySearch(g);
                counts[bin >= 0 ? bin : ~bin - 1]++;
            }
        }
        long total = counts.Sum();
        double chi2 = 0;
        for (int b = 0; b < counts.Length; b++)
        {
            double expected = total * Mass(edges[b], edges[b + 1]);
            Assert.True(expected > 20, $"bin {b} expects {expected}");
            chi2 += Math.Pow(counts[b] - expected, 2) / expected;
        }
        // 31 degrees of freedom: mean 31, σ 7.9; 80 is beyond false-alarm 1e-5.
        Assert.True(chi2 < 80, $"chi-square {chi2:F1} over {counts.Length} bins");
    }

    [Fact]
    public void SeededRandomRangesAndMoments()
    {
        var rng = new SeededRandom(99);
        const int n = 200_000;
        double sum = 0, sumSq = 0, uniformSum = 0;
        var buckets = new int[10];
        for (int i = 0; i < n; i++)
        {
            double u = rng.NextDouble();
            Assert.InRange(u, 0.0, 0.9999999999999999);
            uniformSum += u;
            int k = rng.NextInt(10);
            Assert.InRange(k, 0, 9);
            buckets[k]++;
            double g = rng.NextGaussian();
            Assert.True(double.IsFinite(g));
            sum += g; sumSq += g * g;
        }
        double mean = sum / n, variance = sumSq / n - mean * mean;
        Assert.True(Math.Abs(mean) < 5 / Math.Sqrt(n), $"Gaussian mean {mean}");
        Assert.True(Math.Abs(variance - 1) < 5 * Math.Sqrt(2.0 / n), $"Gaussian variance {variance}");
        Assert.True(Math.Abs(uniformSum / n - 0.5) < 5 * Math.Sqrt(1 / 12.0 / n), $"uniform mean {uniformSum / n}");
        foreach (var count in buckets)
            Assert.InRange(count, n / 10 - 5 * Math.Sqrt(n * 0.09), n / 10 + 5 * Math.Sqrt(n * 0.09));
    }
}
