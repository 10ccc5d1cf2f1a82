namespace Sjd2Onnx.Decoding;

/// <summary>Counters a decoder keeps while it works.</summary>
public sealed class PassStatistics
{
    /// <summary>Transformer forward passes, prefill included (NFE).</summary>
    public int Passes { get; internal set; }
    /// <summary>Image slots committed by each pass after the prefill.</summary>
    public IReadOnlyList<int> CommittedPerPass => Committed;
    /// <summary>Tokens fed by each pass after the prefill (anchor, drafts and, for tree passes, every tree node).</summary>
    public IReadOnlyList<int> FedPerPass => Fed;

    // Written by the engine only: a caller reads a finished generation's counts.
    internal List<int> Committed { get; } = [];
    internal List<int> Fed { get; } = [];
    /// <summary>Wall time inside ONNX Runtime (all graphs): <see cref="TransformerTime"/> + <see cref="EmbeddingTime"/>.</summary>
    public TimeSpan OnnxTime => TransformerTime + EmbeddingTime;
    /// <summary>Wall time of the transformer passes inside ONNX Runtime (the KV cache's helper graphs included where they run).</summary>
    public TimeSpan TransformerTime { get; internal set; }
    /// <summary>
    /// Host time the KV cache spent writing its commits, masks and stride moves (caches in host
    /// memory, which write there instead of running helper graphs); part of <see cref="HostShare"/>.
    /// </summary>
    public TimeSpan KvCacheTime { get; internal set; }
    /// <summary>Wall time of the text and image embedding graphs.</summary>
    public TimeSpan EmbeddingTime { get; internal set; }
    /// <summary>Host time spent turning logits into sampling distributions (guidance, temperature, top-k, softmax, top-p).</summary>
    public TimeSpan DistributionTime { get; internal set; }
    /// <summary>Wall time of the whole decode.</summary>
    public TimeSpan TotalTime { get; internal set; }
    /// <summary>Share of wall time spent in host-side work (sampling, verification, denoising, copies, the KV cache's bookkeeping).</summary>
    public double HostShare => TotalTime > TimeSpan.Zero ? 1 - OnnxTime / TotalTime : 0;
    /// <summary>Of <see cref="HostShare"/>, the part spent building distributions.</summary>
    public double DistributionShare => TotalTime > TimeSpan.Zero ? DistributionTime / TotalTime : 0;
    /// <summary>Bytes the transformer passes bound from host buffers (inputs and KV past), summed over passes.</summary>
    public long BoundBytes { get; internal set; }
    /// <summary>Bytes the transformer passes wrote back into host buffers (logits and KV), summed over passes.</summary>
    public long ReadBackBytes { get; internal set; }
    /// <summary>Of <see cref="BoundBytes"/> + <see cref="ReadBackBytes"/>, the KV cache's share.</summary>
    public long KvBytes { get; internal set; }
    /// <summary>Mean host bytes bound plus read back per transformer pass.</summary>
    public double TransferBytesPerPass => Passes == 0 ? 0 : (BoundBytes + ReadBackBytes) / (double)Passes;
    /// <summary>Passes after which the drafts were re-seeded to break a stall cascade (<see cref="SpeculativeOptions.ReseedAfterStalls"/>).</summary>
    public int Reseeds { get; internal set; }
    /// <summary>Mean slots committed per pass after the prefill.</summary>
    public double MeanAcceptedPerPass => CommittedPerPass.Count == 0 ? 0 : CommittedPerPass.Average();
    /// <summary>Share of passes after the prefill that committed a single slot (SJD-PAC's stall figure).</summary>
    public double SingleTokenPassShare => CommittedPerPass.Count == 0 ? 0 : CommittedPerPass.Count(c => c == 1) / (double)CommittedPerPass.Count;
}
