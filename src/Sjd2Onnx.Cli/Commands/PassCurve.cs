using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.ML.OnnxRuntime;
using Sjd2Onnx.Model;

namespace Sjd2Onnx.Cli.Commands;

/// <summary>
/// <c>sjd2 bench --passes</c>: the cost of one transformer pass (the rows a generation runs: two
/// with classifier-free guidance, one without) over window sizes
/// and cache lengths, with FLOPs and bytes per pass estimated from the model and, when the
/// machine's peaks (given, or measured by <see cref="MachinePeaks"/>), the fraction of the roofline
/// max(FLOPs / peak, bytes / bandwidth).
/// </summary>
internal static class PassCurve
{
    private static readonly int[] Windows = [1, 2, 4, 8, 16, 32, 64];
    private static readonly int[] CacheLengths = [16, 64, 128, 256];

    /// <summary>Measures the curve, prints it and returns it as JSON.</summary>
    public static JsonObject Run(Sjd2Pipeline pipeline, int batch, int repeats, double? peakGflops, double? peakGbps, IReadOnlyList<int>? cacheLengths = null, IReadOnlyList<int>? windowSizes = null)
    {
        var m = pipeline.Manifest;
        var t = m.Transformer;
        int slots = m.Image.GridHeight * m.Image.GridWidth;
        var windows = (windowSizes ?? Windows).Where(w => w <= slots).DefaultIfEmpty(1).ToArray();
        var lengths = (cacheLengths ?? CacheLengths).Where(p => p + windows.Max() <= t.MaxSequenceLength).DefaultIfEmpty(0).ToArray();
        // Weights read per pass: the transformer graph's file(s), nearly all weights (fp32: 4 bytes each;
        // block-quantized: bits/8 a weight plus a float32 scale and a zero point of `bits` bits a block).
        string graph = ManifestReader.ResolveInside(pipeline.ModelDirectory, m.Graphs.Transformer, "transformer");
        long weightBytes = ModelSessions.GraphBytes(graph);
        var wf = m.Weights;
        double bytesPerWeight = wf.IsQuantized ? wf.Bits / 8.0 + (sizeof(float) + wf.Bits / 8.0) / wf.BlockSize : sizeof(float);
        double kvRowBytes = 2.0 * t.NumLayers * batch * t.NumKvHeads * t.HeadDim * sizeof(float);

        string peaksFrom = "given";
        if (peakGflops is null && peakGbps is null)
        {
            (peakGflops, peakGbps) = MachinePeaks.Measure(weightBytes);
            peaksFrom = "measured here";
        }
        Console.WriteLine($"model {m.Name}: per-pass cost, {(batch == 2 ? "2 rows (CFG)" : "1 row (guidance scale 1: no CFG row)")}, median of {repeats} passes; weights ≈ {weightBytes / 1e6:F1} MB, {wf}");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"machine: {peakGflops:F0} GFLOP/s, {peakGbps:F0} GB/s ({peaksFrom}), {Environment.ProcessorCount} cores; transformer threads: {pipeline.Sessions.Threads}"));
        string header = $"{"window",6} {"cache",6} {"median ms",10} {"min ms",8} {"GFLOP",7} {"MB",6} {"GFLOP/s",8} {"GB/s",6} {"roofline",9}";
        Console.WriteLine(header);
        Console.WriteLine(new string('-', header.Length));
        var rows = new JsonArray();
        var rng = new Random(1);
        using var runOptions = new RunOptions();
        var measured = new Dictionary<(int Window, int Cache), JsonObject>();
        // One runner per cache length, filled once and shared by every window (each pass rolls back),
        // so a 1 B model at cache 1 024 fills its cache once, not once per window.
        int widest = windows.Max(), chunk = Math.Max(widest, 32);
        var embeds = new float[batch * chunk * t.HiddenSize];
        for (int i = 0; i < embeds.Length; i++) embeds[i] = (float)(rng.NextDouble() - 0.5);
        foreach (int p in lengths)
        {
            using var runner = new Transformer(pipeline.Sessions, m, batch, p + widest, chunk);
            for (int filled = 0; filled < p; filled += chunk)
            {
                int n = Math.Min(chunk, p - filled);
                runner.Run(embeds, n, default, runOptions);
                runner.Commit(n);
            }
            foreach (int w in windows)
            {
                var times = new double[repeats];
                for (int r = -3; r < repeats; r++)
                {
                    long start = Stopwatch.GetTimestamp();
                    runner.Run(embeds, w, default, runOptions);
                    double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                    runner.Commit(0);
                    if (r >= 0) times[r] = ms;
                }
                Array.Sort(times);
                double median = times[repeats / 2], min = times[0];
                int tokens = batch * w;
                // 2 FLOPs per weight and token, plus attention (QK and PV) over the cache and the window.
                double flops = 2.0 * weightBytes / bytesPerWeight * tokens + 4.0 * tokens * (p + w) * t.HiddenSize * t.NumLayers;
                double bytes = weightBytes + kvRowBytes * p;
                double? roof = peakGflops is double f && peakGbps is double b ? Math.Max(flops / (f * 1e9), bytes / (b * 1e9)) * 1e3 : null;
                double? share = roof is double rf ? rf / median : null;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{w,6} {p,6} {median,10:F3} {min,8:F3} {flops / 1e9,7:F4} {bytes / 1e6,6:F1} {flops / (median * 1e6),8:F1} {bytes / (median * 1e6),6:F1} {(share is double s ? s.ToString("P0", CultureInfo.InvariantCulture) : "-"),9}"));
                measured[(w, p)] = new JsonObject
                {
                    ["window"] = w,
                    ["cache_length"] = p,
                    ["median_ms"] = median,
                    ["min_ms"] = min,
                    ["flops"] = flops,
                    ["bytes"] = bytes,
                    ["roofline_ms"] = roof,
                    ["roofline_fraction"] = share,
                };
            }
        }
        foreach (var key in measured.Keys.OrderBy(k => k.Window).ThenBy(k => k.Cache)) rows.Add(measured[key]);
        return new JsonObject
        {
            ["model"] = m.Name,
            ["rows"] = batch,
            ["repeats"] = repeats,
            ["weight_bytes"] = weightBytes,
            ["weight_format"] = wf.ToString(),
            ["peak_gflops"] = peakGflops,
            ["peak_gbps"] = peakGbps,
            ["peaks"] = peaksFrom,
            ["threads"] = pipeline.Sessions.Threads.ToString(),
            ["passes"] = rows,
        };
    }
}
