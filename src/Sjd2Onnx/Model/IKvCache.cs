using Microsoft.ML.OnnxRuntime;

namespace Sjd2Onnx.Model;

/// <summary>
/// The transformer's KV cache, one implementation per way of keeping it: <see cref="HostKvCache"/>
/// (contract 1, host arrays), <see cref="HostWrittenKvCache"/> and <see cref="GraphKvCache"/>
/// (contract 2, the provider's memory). <see cref="Rent"/> picks the one the sessions were opened for.
/// </summary>
internal interface IKvCache : IDisposable
{
    /// <summary>Host time spent on the cache's own bookkeeping (zero where helper graphs do it).</summary>
    TimeSpan HostTime { get; }

    /// <summary>Bytes the last pass bound from the host for the cache: its mask, past and commit.</summary>
    long LastBoundBytes { get; }

    /// <summary>Bytes of KV rows the last pass wrote into host buffers.</summary>
    long LastReadBackBytes { get; }

    /// <summary>Of <see cref="LastBoundBytes"/> and <see cref="LastReadBackBytes"/>, the KV rows.</summary>
    long LastKvBytes { get; }

    /// <summary>Sets each batch row's left padding (its first cache rows are never visible).</summary>
    void SetPadding(ReadOnlySpan<int> padding);

    /// <summary>Runs <paramref name="pass"/> over the <paramref name="cached"/> rows, leaving its new rows pending.</summary>
    void Run(TransformerPass pass, int cached, RunOptions runOptions);

    /// <summary>Keeps new rows <paramref name="kept"/>[m] of the last window of <paramref name="window"/> at cache row <paramref name="cached"/> + m.</summary>
    void Keep(ReadOnlySpan<int> kept, int cached, int window);

    /// <summary>Drops the cache rows from <paramref name="length"/> on (of <paramref name="cached"/>).</summary>
    void Truncate(int cached, int length);

    /// <summary>One cached row of KV tensor <paramref name="tensor"/> (tests).</summary>
    ReadOnlySpan<float> CachedRow(int tensor, int row, int head, int position);

    /// <summary>
    /// The cache for <paramref name="sessions"/>' transformer: in the provider's memory for contract-2
    /// graphs (pooled, written on the host or by helper graphs), host arrays for contract 1.
    /// </summary>
    static IKvCache Rent(ModelSessions sessions, ModelManifest m, int batch, int capacity, int maxWindow, int strideStep,
        Func<int, float[]> allocate)
    {
        var t = m.Transformer;
        return sessions.KvGraphs is { } graphs
            ? graphs.RentCache(batch, t.NumKvHeads, t.HeadDim, capacity, maxWindow, strideStep)
            : new HostKvCache(t.NumLayers, batch, t.NumKvHeads, t.HeadDim, capacity, maxWindow, allocate);
    }
}
