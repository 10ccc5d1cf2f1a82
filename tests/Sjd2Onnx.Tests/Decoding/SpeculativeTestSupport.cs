using Microsoft.ML.OnnxRuntime;
using Sjd2Onnx.Decoding;
using Sjd2Onnx.Model;
using Sjd2Onnx.Sampling;

namespace Sjd2Onnx.Tests;

/// <summary>Model paths, the exact AR distribution by the chain rule, and the chi-square test of the speculative tests.</summary>
internal static class SpeculativeTestSupport
{
    /// <summary>A committed test model folder (tests/models/NAME) found above the test binary.</summary>
    public static string ModelDir(string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "tests", "models", name);
            if (File.Exists(Path.Combine(candidate, "model.json"))) return candidate;
        }
        throw new DirectoryNotFoundException($"tests/models/{name} not found above {AppContext.BaseDirectory}");
    }

    /// <summary>
    /// The exact distribution over all K^N code sequences of a small model, by the chain rule with
    /// the engine's own transformer, KV cache and distribution builder: P(x) = Π_i P(x_i | x_&lt;i),
    /// with one-token passes (AR) and rollback between branches. Index = codes read as base-K digits, first code most significant.
    /// </summary>
    public static double[] ExactDistribution(string modelDir, string prompt, SamplingSettings? sampling = null)
    {
        var manifest = ManifestReader.Load(modelDir);
        var prompts = new PromptEncoder(modelDir, manifest);
        sampling ??= manifest.Sampling;
        using var sessions = ModelSessions.Open(modelDir, manifest, ExecutionProvider.Cpu, 0);
        using var runOptions = new RunOptions();
        using var ctx = new DecodingContext(sessions, manifest, prompts.Conditional(prompt),
            sampling.UsesGuidance ? prompts.Unconditional(prompt) : null, sampling, 0, 1, runOptions, CancellationToken.None, null);
        if (ctx.Layout.EndOfLineId is not null) throw new ArgumentException("chain-rule enumeration expects a model without forced slots");
        int k = ctx.Codebook, n = ctx.Layout.CodeCount;
        var result = new double[(int)Math.Pow(k, n)];
        ctx.Prefill();
        var first = new float[k];
        ctx.Distribution(ctx.PrefixLength - 1, first);
        Recurse(ctx, 0, first, 0, 1.0, result);
        return result;
    }

    private static void Recurse(DecodingContext ctx, int depth, float[] probs, int index, double mass, double[] result)
    {
        int k = ctx.Codebook, n = ctx.Layout.CodeCount;
        for (int x = 0; x < k; x++)
        {
            double m = mass * probs[x];
            int idx = index * k + x;
            if (depth == n - 1) { result[idx] = m; continue; }
            if (m == 0) continue;
            int length = ctx.Transformer.Length;
            ctx.EmbedSlots(depth, [x], 1);
            ctx.RunWindow(1);
            ctx.Transformer.Commit(1);
            var next = new float[k];
            ctx.Distribution(0, next);
            Recurse(ctx, depth + 1, next, idx, m, result);
            ctx.Transformer.Truncate(length);
        }
    }

    /// <summary>
    /// Exact marginal distribution of the first code of the second row on a model with end-of-line
    /// slots: the chain rule summed over every first row, the forced token fed after it.
    /// </summary>
    public static double[] ExactMarginalAfterFirstRow(string modelDir, string prompt)
    {
        var manifest = ManifestReader.Load(modelDir);
        var prompts = new PromptEncoder(modelDir, manifest);
        var sampling = manifest.Sampling;
        using var sessions = ModelSessions.Open(modelDir, manifest, ExecutionProvider.Cpu, 0);
        using var runOptions = new RunOptions();
        using var ctx = new DecodingContext(sessions, manifest, prompts.Conditional(prompt),
            sampling.UsesGuidance ? prompts.Unconditional(prompt) : null, sampling, 0, 2, runOptions, CancellationToken.None, null);
        int k = ctx.Codebook, cols = ctx.Layout.Cols;
        if (ctx.Layout.EndOfLineId is null) throw new ArgumentException("the model has no end-of-line slots");
        var result = new double[k];
        ctx.Prefill();
        var first = new float[k];
        ctx.Distribution(ctx.PrefixLength - 1, first);
        FirstRow(ctx, 0, cols, first, 1.0, result);
        return result;
    }

    private static void FirstRow(DecodingContext ctx, int depth, int cols, float[] probs, double mass, double[] result)
    {
        int k = ctx.Codebook;
        for (int x = 0; x < k; x++)
        {
            double m = mass * probs[x];
            if (m == 0) continue;
            int length = ctx.Transformer.Length;
            var next = new float[k];
            if (depth == cols - 1)
            {
                // The row's last code and the forced end-of-line token in one window; its second output is the next row's first code.
                ctx.EmbedSlots(depth, [x, 0], 2);
                ctx.RunWindow(2);
                ctx.Transformer.Commit(0);
                ctx.Distribution(1, next);
                for (int c = 0; c < k; c++) result[c] += m * next[c];
                continue;
            }
            ctx.EmbedSlots(depth, [x], 1);
            ctx.RunWindow(1);
            ctx.Transformer.Commit(1);
            ctx.Distribution(0, next);
            FirstRow(ctx, depth + 1, cols, next, m, result);
            ctx.Transformer.Truncate(length);
        }
    }

    /// <summary>One-sided standard-normal quantile of 1 − 1e-4: the exactness tests' false-alarm rate.</summary>
    public const double Z = 3.719;

    /// <summary>
    /// Samples a decoder and tests its sequences against the exact distribution: Pearson's
    /// chi-square, its degrees of freedom, the 1 − 1e-4 limit, the counts and the mean passes.
    /// </summary>
    public static (double Stat, int Df, double Limit, long[] Counts, double MeanPasses) ChiSquareTest(
        Sjd2Pipeline pipeline, string prompt, GenerationOptions options, int samples, ulong seed, double[] exact)
    {
        var (counts, passes) = Sample(pipeline, prompt, options, samples, seed);
        var (stat, df) = ChiSquare(counts, exact);
        return (stat, df, ChiSquareQuantile(df, Z), counts, passes);
    }

    /// <summary>Counts of each code sequence over <paramref name="samples"/> seeded generations, and their mean passes.</summary>
    public static (long[] Counts, double MeanPasses) Sample(Sjd2Pipeline pipeline, string prompt, GenerationOptions options, int samples, ulong seed)
    {
        var counts = new long[(int)Math.Pow(pipeline.Manifest.Image.CodebookSize, pipeline.Manifest.Image.CodeCount)];
        long passes = 0;
        for (int i = 0; i < samples; i++)
        {
            var (codes, stats) = pipeline.GenerateCodes(prompt, options with { Seed = seed + (ulong)i });
            counts[Index(codes, pipeline.Manifest.Image.CodebookSize)]++;
            passes += stats.Passes;
        }
        return (counts, passes / (double)samples);
    }

    /// <summary>How often the decoder re-seeded its drafts over <paramref name="samples"/> seeded generations.</summary>
    public static int Reseeds(Sjd2Pipeline pipeline, string prompt, GenerationOptions options, int samples, ulong seed)
    {
        int reseeds = 0;
        for (int i = 0; i < samples; i++) reseeds += pipeline.GenerateCodes(prompt, options with { Seed = seed + (ulong)i }).Statistics.Reseeds;
        return reseeds;
    }

    /// <summary>Index of a code sequence in <see cref="ExactDistribution"/>.</summary>
    public static int Index(int[] codes, int k)
    {
        int idx = 0;
        foreach (int c in codes) idx = idx * k + c;
        return idx;
    }

    /// <summary>
    /// Pearson's chi-square of observed counts against expected probabilities, pooling every cell
    /// whose expected count is below 5 into one cell (a pooled cell still under 5 is merged into
    /// the smallest regular cell). Returns the statistic and its degrees of freedom.
    /// </summary>
    public static (double Statistic, int Df) ChiSquare(long[] counts, double[] probs)
    {
        long total = counts.Sum();
        double pooledE = 0, pooledO = 0, stat = 0;
        var cells = new List<(double E, double O)>();
        for (int i = 0; i < probs.Length; i++)
        {
            double e = probs[i] * total;
            if (e < 5) { pooledE += e; pooledO += counts[i]; }
            else cells.Add((e, counts[i]));
        }
        if (pooledE > 0 || pooledO > 0)
        {
            if (pooledE >= 5 || cells.Count == 0) cells.Add((pooledE, pooledO));
            else
            {
                int smallest = cells.IndexOf(cells.MinBy(c => c.E));
                cells[smallest] = (cells[smallest].E + pooledE, cells[smallest].O + pooledO);
            }
        }
        foreach (var (e, o) in cells) stat += e > 0 ? (o - e) * (o - e) / e : (o > 0 ? double.PositiveInfinity : 0);
        return (stat, cells.Count - 1);
    }

    /// <summary>
    /// Upper quantile of the chi-square distribution with <paramref name="df"/> degrees of freedom
    /// for a standard-normal quantile z (Wilson–Hilferty: accurate to a few percent for df ≥ 10,
    /// and conservative enough at the far tail we use).
    /// </summary>
    public static double ChiSquareQuantile(int df, double z)
    {
        double a = 2.0 / (9.0 * df);
        double c = 1 - a + z * Math.Sqrt(a);
        return df * c * c * c;
    }

    /// <summary>Total-variation distance between empirical counts and probabilities.</summary>
    public static double TotalVariation(long[] counts, double[] probs)
    {
        double total = counts.Sum(), tv = 0;
        for (int i = 0; i < probs.Length; i++) tv += Math.Abs(counts[i] / total - probs[i]);
        return tv / 2;
    }
}
