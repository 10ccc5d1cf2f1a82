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
