using Sjd2Onnx.Decoding;

namespace Sjd2Onnx.Cli.Commands;

/// <summary>
/// One generation's wall time by component, in milliseconds: the transformer passes and the
/// embedding graphs (ONNX Runtime), building sampling distributions, the KV cache's host
/// bookkeeping (commits, masks, stride moves where the cache is in host memory), the rest of the
/// decoder's host work (verification, sampling, draft bookkeeping), and everything after the codes
/// (VQ decoding, pixels).
/// </summary>
internal sealed record TimeBreakdown(double TransformerMs, double EmbeddingMs, double DistributionMs, double KvCacheMs, double DecoderMs, double ImageMs)
{
    /// <summary>Splits <paramref name="latencyMs"/> by the decode's statistics.</summary>
    public static TimeBreakdown From(PassStatistics s, double latencyMs)
    {
        double total = s.TotalTime.TotalMilliseconds, distributions = s.DistributionTime.TotalMilliseconds, kv = s.KvCacheTime.TotalMilliseconds;
        return new TimeBreakdown(s.TransformerTime.TotalMilliseconds, s.EmbeddingTime.TotalMilliseconds, distributions, kv,
            Math.Max(0, total - s.OnnxTime.TotalMilliseconds - distributions - kv), Math.Max(0, latencyMs - total));
    }

    /// <summary>The components' names as the bench JSON writes them, in order.</summary>
    public static readonly string[] Names = ["transformer", "embeddings", "distributions", "kv_cache", "decoder_host", "image"];

    /// <summary>The components in the order of <see cref="Names"/>.</summary>
    public double[] Values => [TransformerMs, EmbeddingMs, DistributionMs, KvCacheMs, DecoderMs, ImageMs];
}
