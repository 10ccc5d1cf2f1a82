using Microsoft.ML.OnnxRuntime;
using Sjd2Onnx.Sampling;

namespace Sjd2Onnx.Model;

/// <summary>
/// The transformer graph: runs windows of new tokens (chains, or trees where the graph has a
/// <c>window_mask</c>) over the <see cref="IKvCache"/> chosen for it, which keeps or drops them.
/// </summary>
internal sealed class Transformer : IDisposable
{
    private readonly int _batch, _capacity, _maxWindow;
    private readonly IKvCache _cache;
    private readonly TransformerPass _pass;
    private readonly DeviceTopK? _deviceTopK;     // the top k per position, reduced on the provider
    private readonly CancellationToken _cancellation;
    private readonly int[] _padding, _positionShift;   // per row: left padding; added to position ids (sequence.first_image_position)
    private int _pending, _lastWindow;            // tokens of the last Run: not yet committed; whose logits stay readable
    private bool _disposed;

    /// <summary>
    /// A transformer for <paramref name="batch"/> rows and <paramref name="capacity"/> cached tokens; <paramref name="allocate"/>
    /// gives the large buffers (a pool), <paramref name="deviceSampling"/> the top k the provider keeps (contract 2; null: all logits).
    /// </summary>
    public Transformer(ModelSessions sessions, ModelManifest m, int batch, int capacity, int maxWindow, int strideStep = StrideStep,
        Func<int, float[]>? allocate = null, SamplingSettings? deviceSampling = null, CancellationToken cancellation = default)
    {
        allocate ??= n => new float[n];
        ArgumentOutOfRangeException.ThrowIfLessThan(strideStep, 1);
        _batch = batch; _capacity = capacity; _maxWindow = maxWindow; _cancellation = cancellation;
        SupportsTreeAttention = sessions.HasTreeAttention;
        _cache = IKvCache.Rent(sessions, m, batch, capacity, maxWindow, strideStep, allocate);
        if (deviceSampling is not null)
        {
            if (sessions.TopKSampler is not { } sampler || sessions.KvGraphs is not { } graphs)
                throw new InvalidOperationException("sampling on the provider needs a contract-2 transformer and its top-k graphs");
            _deviceTopK = new DeviceTopK(sampler, graphs, deviceSampling, batch, maxWindow, m.Image.CodebookSize);
        }
        _pass = new TransformerPass(sessions, m, batch, maxWindow, _deviceTopK is null ? allocate(batch * maxWindow * m.Image.CodebookSize) : [], _deviceTopK);
        (_padding, _positionShift) = (new int[batch], new int[batch]);
    }

    /// <summary>Contract 2: by default the cache's row stride grows in multiples of this many rows.</summary>
    internal const int StrideStep = 32;

    /// <summary>Bytes the last pass bound from host buffers: its inputs, the mask and what the cache bound (contract 1: the past).</summary>
    public long LastBoundBytes { get; private set; }

    /// <summary>Bytes the last pass wrote into host buffers: logits (or their top k) and, for contract 1, the present.</summary>
    public long LastReadBackBytes { get; private set; }

    /// <summary>Of <see cref="LastBoundBytes"/> and <see cref="LastReadBackBytes"/>, the KV cache's share.</summary>
    public long LastKvBytes { get; private set; }

    /// <summary>Host time the KV cache has spent on its bookkeeping (zero where helper graphs do it on the device).</summary>
    public TimeSpan KvCacheHostTime => _cache.HostTime;

    /// <summary>Tokens held in the cache (padding included).</summary>
    public int Length { get; private set; }

    /// <summary>True when the graph takes a <c>window_mask</c> (tree attention); older graphs only run causal windows.</summary>
    public bool SupportsTreeAttention { get; }

    /// <summary>Sets each row's left padding before the first pass (rows of unequal prompt length).</summary>
    public void SetPadding(ReadOnlySpan<int> padding)
    {
        if (Length != 0) throw new InvalidOperationException("padding is set before the first pass");
        padding.CopyTo(_padding);
        _cache.SetPadding(_padding);
    }

    /// <summary>Shifts each row's position ids (manifest <c>sequence.first_image_position</c>); default 0: a row's first real token has position 0.</summary>
    public void SetPositionShift(ReadOnlySpan<int> shift)
    {
        if (Length != 0) throw new InvalidOperationException("position shifts are set before the first pass");
        shift.CopyTo(_positionShift);
    }

    /// <summary>Feeds S new tokens per row (<paramref name="embeds"/> [B,S,D], <paramref name="noise"/> [B,S] or empty); then <see cref="Commit(int)"/> keeps a prefix.</summary>
    public void Run(float[] embeds, int s, ReadOnlySpan<float> noise, RunOptions runOptions) =>
        Run(embeds, s, noise, default, default, runOptions);

    /// <summary>
    /// Feeds S new tokens per row as a tree: token j gets the position of cache index <see cref="Length"/> +
    /// <paramref name="positionOffsets"/>[j] (empty: j) and <c>windowMask[i·S + j]</c> says whether token i
    /// attends token j (empty: causal; needs <see cref="SupportsTreeAttention"/>). Rows share both.
    /// </summary>
    public void Run(float[] embeds, int s, ReadOnlySpan<float> noise, ReadOnlySpan<int> positionOffsets,
        ReadOnlySpan<bool> windowMask, RunOptions runOptions)
    {
        _cancellation.ThrowIfCancellationRequested();
        if (_pending != 0) throw new InvalidOperationException("commit the previous window first");
        if (s < 1 || s > _maxWindow || Length + s > _capacity)
            throw new InvalidOperationException($"window of {s} does not fit (cached {Length}, capacity {_capacity}, max window {_maxWindow})");
        if (!positionOffsets.IsEmpty && positionOffsets.Length != s) throw new ArgumentException($"{positionOffsets.Length} position offsets for a window of {s}", nameof(positionOffsets));
        if (!windowMask.IsEmpty && windowMask.Length != s * s) throw new ArgumentException($"a window mask of {windowMask.Length} entries for a window of {s} (needs {s * s})", nameof(windowMask));
        if (!windowMask.IsEmpty && !SupportsTreeAttention) throw new InvalidOperationException("this transformer graph has no window_mask input (re-export the model for tree attention)");
        _pass.Fill(embeds, s, noise, positionOffsets, windowMask, Length, _padding, _positionShift);
        try
        {
            _cache.Run(_pass, Length, runOptions);
            _deviceTopK?.Run(s, runOptions);
        }
        catch (OnnxRuntimeException) when (_cancellation.IsCancellationRequested) { throw new OperationCanceledException(_cancellation); }
        catch (OnnxRuntimeException e) { throw GraphContract.RunFailed("transformer", e); }
        _pending = s;
        _lastWindow = s;
        LastBoundBytes = _pass.InputBytes + _cache.LastBoundBytes;
        LastReadBackBytes = (_deviceTopK?.ReadBackBytes(s) ?? (long)_batch * s * _pass.Codebook * sizeof(float)) + _cache.LastReadBackBytes;
        LastKvBytes = _cache.LastKvBytes;
    }

    /// <summary>Whether the provider reduces each pass's logits to their top k (<see cref="TopKValues"/>) instead of reading them all back (<see cref="Logits"/>).</summary>
    public bool SamplesOnDevice => _deviceTopK is not null;

    /// <summary>The last pass's top k logits (after CFG and temperature) at window position <paramref name="j"/>, descending.</summary>
    public ReadOnlySpan<float> TopKValues(int j) => DeviceTopKAt(j).Values(j);

    /// <summary>The codes of <see cref="TopKValues"/>, ties in code order.</summary>
    public ReadOnlySpan<int> TopKCodes(int j) => DeviceTopKAt(j).Codes(j);

    private DeviceTopK DeviceTopKAt(int j) =>
        _deviceTopK is null ? throw new InvalidOperationException("this transformer reads back the logits; use Logits")
        : j < 0 || j >= _lastWindow ? throw new ArgumentOutOfRangeException(nameof(j)) : _deviceTopK;

    /// <summary>Logits of the last pass for row <paramref name="row"/>, window position <paramref name="j"/>.</summary>
    public ReadOnlySpan<float> Logits(int row, int j)
    {
        if (_deviceTopK is not null) throw new InvalidOperationException("the provider samples for this transformer; use TopKValues");
        if (j < 0 || j >= _lastWindow) throw new ArgumentOutOfRangeException(nameof(j));
        return _pass.Logits.AsSpan((row * _lastWindow + j) * _pass.Codebook, _pass.Codebook);
    }

    /// <summary>Keeps the first <paramref name="keep"/> tokens of the last window in the cache, drops the rest.</summary>
    public void Commit(int keep)
    {
        if (keep < 0 || keep > _pending) throw new ArgumentOutOfRangeException(nameof(keep));
        Span<int> prefix = stackalloc int[keep];
        for (int m = 0; m < keep; m++) prefix[m] = m;
        _pass.CheckKept(prefix, _pending, "commit the tree path by its indices");
        Keep(prefix);
    }

    /// <summary>
    /// Keeps the window tokens <paramref name="kept"/> (a root-to-leaf path of a tree pass, in cache
    /// order) and drops the others; token <c>kept[m]</c> must have been fed at position offset m.
    /// </summary>
    public void Commit(ReadOnlySpan<int> kept)
    {
        if (kept.Length > _pending) throw new ArgumentOutOfRangeException(nameof(kept), $"{kept.Length} tokens kept of a window of {_pending}");
        _pass.CheckKept(kept, _pending, null);
        Keep(kept);
    }

    private void Keep(ReadOnlySpan<int> kept)
    {
        _cache.Keep(kept, Length, _pending);
        Length += kept.Length;
        _pending = 0;
    }

    /// <summary>Rolls the cache back to <paramref name="length"/> tokens (≤ <see cref="Length"/>).</summary>
    public void Truncate(int length)
    {
        if (_pending != 0) throw new InvalidOperationException("commit the pending window first");
        if (length < 0 || length > Length) throw new ArgumentOutOfRangeException(nameof(length));
        _cache.Truncate(Length, length);
        Length = length;
    }

    /// <summary>Reads one cached key/value row (tests): layer, 0 = key / 1 = value, row, head, position.</summary>
    internal ReadOnlySpan<float> CachedRow(int layer, int kind, int row, int head, int position) =>
        _cache.CachedRow(2 * layer + kind, row, head, position);

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _cache.Dispose();   // before the top k: the cache's binding holds its logits view
        _deviceTopK?.Dispose();
    }
}
