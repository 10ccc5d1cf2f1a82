namespace Sjd2Onnx.Cli.Commands;

/// <summary>One method spec of <c>sjd2 bench</c> (e.g. <c>sjd2:kv=exact</c>) with its runs and their means.</summary>
internal sealed class BenchMethod(string label, GenerationOptions options)
{
    public string Label { get; } = label;
    public GenerationOptions Options { get; } = options;
    public List<BenchRun> Runs { get; } = [];

    public double Nfe => Runs.Average(r => r.Nfe);
    public double LatencyMs => Runs.Average(r => r.LatencyMs);
    public double AcceptedPerPass => Runs.Average(r => r.AcceptedPerPass);
    public double HostShare => Runs.Average(r => r.HostShare);
    public double TransferBytesPerPass => Runs.Average(r => r.TransferBytesPerPass);
    public double KvBytesPerPass => Runs.Average(r => r.KvBytesPerPass);
    public double ReadBackBytesPerPass => Runs.Average(r => r.ReadBackBytesPerPass);

    /// <summary>Mean share of the generation's wall time per <see cref="TimeBreakdown.Names"/> component.</summary>
    public double[] TimeShares
    {
        get
        {
            var shares = new double[TimeBreakdown.Names.Length];
            var timed = Runs.Where(r => r.Breakdown is not null && r.LatencyMs > 0).ToList();
            foreach (var r in timed)
            {
                var v = r.Breakdown!.Values;
                for (int i = 0; i < shares.Length; i++) shares[i] += v[i] / r.LatencyMs / timed.Count;
            }
            return shares;
        }
    }

    /// <summary>Bucket edges of the per-pass histograms: 1, 2, 3, 4–7, 8–15, 16–31, 32 and more.</summary>
    public static readonly int[] HistogramEdges = [1, 2, 3, 4, 8, 16, 32];

    /// <summary>Share of passes (after the prefill, over every run) that committed a single slot.</summary>
    public double SingleTokenPassShare => Share(r => r.CommittedPerPass, c => c == 1);

    /// <summary>Mean tokens fed per pass after the prefill, over every pass of every run.</summary>
    public double FedPerPass => Runs.SelectMany(r => r.FedPerPass).DefaultIfEmpty().Average();

    /// <summary>Mean re-seedings of the drafts per image (stall cascades broken; 0 for AR).</summary>
    public double ReseedsPerImage => Runs.Count == 0 ? 0 : Runs.Average(r => r.Reseeds);

    /// <summary>Share of passes per bucket of <see cref="HistogramEdges"/>: slots committed per pass.</summary>
    public double[] CommittedHistogram => Histogram(r => r.CommittedPerPass);

    /// <summary>Share of passes per bucket of <see cref="HistogramEdges"/>: tokens fed per pass.</summary>
    public double[] FedHistogram => Histogram(r => r.FedPerPass);

    /// <summary>Label of histogram bucket i ("1", "4-7", "32+").</summary>
    public static string BucketLabel(int i) =>
        i == HistogramEdges.Length - 1 ? $"{HistogramEdges[i]}+"
        : HistogramEdges[i + 1] - HistogramEdges[i] == 1 ? $"{HistogramEdges[i]}" : $"{HistogramEdges[i]}-{HistogramEdges[i + 1] - 1}";

    private double Share(Func<BenchRun, IReadOnlyList<int>> values, Func<int, bool> predicate)
    {
        long all = 0, hits = 0;
        foreach (var r in Runs)
            foreach (int v in values(r)) { all++; if (predicate(v)) hits++; }
        return all == 0 ? 0 : hits / (double)all;
    }

    private double[] Histogram(Func<BenchRun, IReadOnlyList<int>> values)
    {
        var counts = new double[HistogramEdges.Length];
        long all = 0;
        foreach (var r in Runs)
        {
            foreach (int v in values(r))
            {
                int bucket = 0;
                while (bucket + 1 < HistogramEdges.Length && v >= HistogramEdges[bucket + 1]) bucket++;
                counts[bucket]++;
                all++;
            }
        }
        if (all > 0) for (int i = 0; i < counts.Length; i++) counts[i] /= all;
        return counts;
    }

    /// <summary>Fraction of scored images ShapesEval judged correct; null when none was scored.</summary>
    public double? Accuracy
    {
        get
        {
            var scored = Runs.Where(r => r.Correct is not null).ToList();
            return scored.Count == 0 ? null : scored.Count(r => r.Correct == true) / (double)scored.Count;
        }
    }

    /// <summary>NFE(AR) / NFE(this), over the same prompts and seeds.</summary>
    public double? StepCompression(BenchMethod? ar) => ar is null ? null : ar.Nfe / Nfe;

    /// <summary>Latency(AR) / latency(this), measured interleaved in the same run.</summary>
    public double? Speedup(BenchMethod? ar) => ar is null ? null : ar.LatencyMs / LatencyMs;
}
