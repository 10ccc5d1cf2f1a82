using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Sjd2Onnx.Sampling;

namespace Sjd2Onnx.Model;

/// <summary>
/// Runs the transformer over windows of new tokens with a KV cache that can roll back.
/// Contract 2 graphs (outputs <c>new_key_values.*</c>, only the window's rows): the cache stays in
/// the execution provider's memory (<see cref="DeviceKvCache"/>), one buffer per layer tensor laid
/// out [B,H,stride,Dh] and bound whole as the past on every pass with the rows not (or no longer)
/// in use masked out; a commit scatters the kept new rows into it on the device and a rollback
/// only moves <see cref="Length"/>, so neither the graph nor the host copies the cache. The stride
/// grows in steps of <see cref="StrideStep"/> rows as the cache fills (one move of the cached rows
/// per step), so a pass attends at most a step of masked rows.
/// Contract 1 graphs (outputs <c>present.*</c> = past + window): two buffers per layer tensor
/// alternate as past and present: when a whole window is kept the present simply becomes the next
/// past (no copy); a partial keep compacts it in place.
/// Graphs with a <c>window_mask</c> input also run tree passes: each new token sees the cache and
/// the window tokens its mask names, at a position given per token, and <see cref="Commit(ReadOnlySpan{int})"/>
/// keeps one root-to-leaf path of the tree.
/// </summary>
internal sealed class TransformerRunner : IDisposable
{
    private readonly InferenceSession _session;
    private readonly int _batch, _layers, _heads, _headDim, _hidden, _codebook, _capacity, _maxWindow;
    private readonly bool _noise;
    private readonly bool _newRows;               // contract 2: the graph returns only the new rows
    private readonly DeviceKvCache? _device;      // contract 2: the cache, in the provider's memory
    private readonly KvCacheGraphs? _kvGraphs;    // contract 2: where the cache goes back
    private DeviceBinding? _binding;              // contract 2: bound once, partly rebound per pass
    private readonly HostInputTransfer _transfer; // how bound host inputs reach the provider
    private bool _disposed;
    private int _boundCache = -1, _boundWindow;   // the cache version and window size _binding holds
    private float[]? _boundEmbeds;                // the embeddings buffer _binding holds
    private OrtValue? _boundMask;                 // the attention mask view _binding holds
    // Contract 2: views of the host buffers a pass binds (embeddings, positions, noise, window mask,
    // logits), made once per buffer and window size: making and binding them every pass took about
    // as long as the KV cache's prepare step.
    private readonly Dictionary<(object Buffer, int Window), OrtValue> _hostViews = [];
    private float[][] _past, _present;            // contract 1: [2·layers][B·H·capacity·Dh] each
    private readonly float[] _logits;             // [B, maxWindow, K] (empty when the provider samples)
    private readonly DeviceTopK? _deviceTopK;     // contract 2: the top k per position, reduced on the provider
    private readonly long[] _mask;                // contract 1: [B, capacity] (contract 2 builds it on the device)
    private readonly long[] _positions;           // [B, maxWindow]
    private readonly float[] _noiseLevels;        // [B, maxWindow]
    private readonly long[]? _windowMask;         // [S, S] (graphs with tree attention)
    private readonly int[] _offsets;              // position offset of each token of the pending window
    private readonly float[] _scratchRows;        // kept window rows of one block while a tree path is compacted
    private readonly int[] _padding;              // left padding of each row
    private readonly int[] _positionShift;        // added to each row's position ids (sequence.first_image_position)
    private readonly string[] _inputNames, _outputNames;
    private int _pending;                         // tokens of the last Run not yet committed
    private int _lastWindow;                      // tokens of the last Run (its logits stay readable)

    /// <summary>A runner over <paramref name="sessions"/> for <paramref name="batch"/> rows.</summary>
    /// <param name="sessions">The model's sessions: the transformer graph (contract 1 or 2) and, for contract 2, its KV cache graphs.</param>
    /// <param name="m">The model's manifest (dimensions).</param>
    /// <param name="batch">Batch rows (2 with CFG).</param>
    /// <param name="capacity">Most tokens the cache holds.</param>
    /// <param name="maxWindow">Longest window one pass may feed.</param>
    /// <param name="strideStep">Contract 2: rows the cache stride grows by (tests use small steps to exercise the moves).</param>
    /// <param name="allocate">Where the large buffers (KV cache, logits) come from: a pool may hand out longer, zeroed arrays; default new arrays.</param>
    /// <param name="deviceSampling">Contract 2 with a top-k sampler: the settings whose top k the provider keeps per position (<see cref="TopKValues"/>); null reads back every logit.</param>
    public TransformerRunner(ModelSessions sessions, ModelManifest m, int batch, int capacity, int maxWindow, int strideStep = StrideStep,
        Func<int, float[]>? allocate = null, SamplingSettings? deviceSampling = null)
    {
        allocate ??= n => new float[n];
        ArgumentOutOfRangeException.ThrowIfLessThan(strideStep, 1);
        _session = sessions.Transformer;
        _batch = batch; _layers = m.Transformer.NumLayers; _heads = m.Transformer.NumKvHeads; _headDim = m.Transformer.HeadDim;
        _hidden = m.Transformer.HiddenSize; _codebook = m.Image.CodebookSize; _capacity = capacity; _maxWindow = maxWindow;
        _noise = sessions.HasNoiseInput;
        SupportsTreeAttention = sessions.HasTreeAttention;
        _newRows = sessions.ReturnsNewRows;
        _transfer = sessions.HostInputs;
        int kvSize = batch * _heads * capacity * _headDim;
        if (sessions.KvGraphs is { } graphs)
        {
            _device = graphs.RentCache(batch, _heads, _headDim, capacity, maxWindow, strideStep);
            _kvGraphs = graphs;
            _past = _present = [];
        }
        else
        {
            _past = NewBuffers(2 * _layers, kvSize, allocate);
            _present = NewBuffers(2 * _layers, kvSize, allocate);
        }
        if (deviceSampling is not null)
        {
            if (sessions.TopKSampler is not { } sampler || _kvGraphs is null)
                throw new InvalidOperationException("sampling on the provider needs a contract-2 transformer and its top-k graphs");
            _deviceTopK = new DeviceTopK(sampler, _kvGraphs, deviceSampling, batch, maxWindow, _codebook);
        }
        _logits = _deviceTopK is null ? allocate(batch * maxWindow * _codebook) : [];
        _mask = _newRows ? [] : new long[batch * capacity];
        _positions = new long[batch * maxWindow];
        _noiseLevels = new float[batch * maxWindow];
        _padding = new int[batch];
        _positionShift = new int[batch];
        _windowMask = SupportsTreeAttention ? new long[maxWindow * maxWindow] : null;
        _offsets = new int[maxWindow];
        _scratchRows = new float[maxWindow * _headDim];

        var inputs = new List<string> { "inputs_embeds", "attention_mask", "position_ids" };
        var outputs = new List<string> { "logits" };
        for (int i = 0; i < _layers; i++)
        {
            inputs.Add($"past_key_values.{i}.key"); inputs.Add($"past_key_values.{i}.value");
            string output = _newRows ? "new_key_values" : "present";
            outputs.Add($"{output}.{i}.key"); outputs.Add($"{output}.{i}.value");
        }
        if (_noise) inputs.Add("noise_levels");
        if (SupportsTreeAttention) inputs.Add("window_mask");
        _inputNames = [.. inputs];
        _outputNames = [.. outputs];
    }

    /// <summary>Contract 2: by default the cache's row stride grows in multiples of this many rows.</summary>
    internal const int StrideStep = 32;

    /// <summary>
    /// Bytes the last pass bound from host buffers as inputs: embeddings, masks, positions, noise
    /// levels and the KV past (contract 1: the P cached rows; contract 2: the whole cache stride,
    /// which a device-resident cache would not move).
    /// </summary>
    public long LastBoundBytes { get; private set; }

    /// <summary>Host time the KV cache has spent on its bookkeeping for this runner (zero where helper graphs do it on the device).</summary>
    public TimeSpan KvCacheHostTime => _device?.HostTime ?? TimeSpan.Zero;

    /// <summary>Bytes the last pass wrote into host buffers: logits and KV (contract 1: P + S rows; contract 2: the S new rows).</summary>
    public long LastReadBackBytes { get; private set; }

    /// <summary>Of <see cref="LastBoundBytes"/> and <see cref="LastReadBackBytes"/>, the KV cache's share.</summary>
    public long LastKvBytes { get; private set; }

    /// <summary>Tokens held in the cache (padding included).</summary>
    public int Length { get; private set; }

    /// <summary>Batch rows (2 with CFG).</summary>
    public int Batch => _batch;

    /// <summary>Longest window one pass may feed.</summary>
    public int MaxWindow => _maxWindow;

    /// <summary>
    /// True when the graph takes a <c>window_mask</c> (model contract: tree attention), so that
    /// <see cref="Run(float[], int, ReadOnlySpan{float}, ReadOnlySpan{int}, ReadOnlySpan{bool}, RunOptions)"/>
    /// accepts a mask; older graphs only run causal windows.
    /// </summary>
    public bool SupportsTreeAttention { get; }

    /// <summary>Sets each row's left padding before the first pass (rows of unequal prompt length).</summary>
    public void SetPadding(ReadOnlySpan<int> padding)
    {
        if (Length != 0) throw new InvalidOperationException("padding is set before the first pass");
        padding.CopyTo(_padding);
        _device?.SetPadding(_padding);
    }

    /// <summary>
    /// Shifts each row's position ids (default 0: a row's first real token has position 0). Used by
    /// models whose positions are fixed relative to the image (manifest <c>sequence.first_image_position</c>).
    /// </summary>
    public void SetPositionShift(ReadOnlySpan<int> shift)
    {
        if (Length != 0) throw new InvalidOperationException("position shifts are set before the first pass");
        shift.CopyTo(_positionShift);
    }

    /// <summary>
    /// Feeds S new tokens per row: <paramref name="embeds"/> is [B,S,D], <paramref name="noise"/> is
    /// [B,S] or empty (all clean). Afterwards <see cref="Logits"/> holds [B,S,K]; call
    /// <see cref="Commit(int)"/> to keep a prefix of the window in the cache.
    /// </summary>
    public void Run(float[] embeds, int s, ReadOnlySpan<float> noise, RunOptions runOptions) =>
        Run(embeds, s, noise, default, default, runOptions);

    /// <summary>
    /// Feeds S new tokens per row as a tree (or any other attention pattern inside the window).
    /// <paramref name="positionOffsets"/> [S]: token j gets the position of cache index
    /// <see cref="Length"/> + offset (its depth in the tree; empty = 0..S−1, a chain).
    /// <paramref name="windowMask"/> [S·S], row-major: <c>windowMask[i·S + j]</c> true = new token i
    /// attends new token j (a token always attends itself; empty = causal, j ≤ i); requires
    /// <see cref="SupportsTreeAttention"/>. Rows share offsets and mask (the CFG rows carry the same tree).
    /// Logits of token i equal those of feeding its attended tokens, in window order, as a chain.
    /// </summary>
    public void Run(float[] embeds, int s, ReadOnlySpan<float> noise, ReadOnlySpan<int> positionOffsets,
        ReadOnlySpan<bool> windowMask, RunOptions runOptions)
    {
        if (_pending != 0) throw new InvalidOperationException("commit the previous window first");
        if (s < 1 || s > _maxWindow || Length + s > _capacity)
            throw new InvalidOperationException($"window of {s} does not fit (cached {Length}, capacity {_capacity}, max window {_maxWindow})");
        if (!positionOffsets.IsEmpty && positionOffsets.Length != s)
            throw new ArgumentException($"{positionOffsets.Length} position offsets for a window of {s}", nameof(positionOffsets));
        if (!windowMask.IsEmpty && windowMask.Length != s * s)
            throw new ArgumentException($"a window mask of {windowMask.Length} entries for a window of {s} (needs {s * s})", nameof(windowMask));
        if (!windowMask.IsEmpty && !SupportsTreeAttention)
            throw new InvalidOperationException("this transformer graph has no window_mask input (re-export the model for tree attention)");
        for (int j = 0; j < s; j++) _offsets[j] = positionOffsets.IsEmpty ? j : positionOffsets[j];
        int p = Length;
        for (int b = 0; b < _batch; b++)
            for (int j = 0; j < s; j++) _positions[b * s + j] = Math.Max(0, p + _offsets[j] - _padding[b] + _positionShift[b]);
        if (_windowMask is not null)
        {
            for (int i = 0; i < s; i++)
                for (int j = 0; j < s; j++)
                    _windowMask[i * s + j] = (windowMask.IsEmpty ? j <= i : windowMask[i * s + j]) ? 1 : 0;
        }
        if (_noise)
        {
            if (noise.IsEmpty) _noiseLevels.AsSpan(0, _batch * s).Clear();
            else noise[..(_batch * s)].CopyTo(_noiseLevels);
        }

        if (_device is not null) RunOnDevice(_device, embeds, p, s, runOptions);
        else RunOnHost(embeds, p, s, runOptions);
        _pending = s;
        _lastWindow = s;
        long kvRow = 2L * _layers * _batch * _heads * _headDim * sizeof(float);
        long maskBytes = _device is not null ? (3 + _batch) * sizeof(long) : _batch * (p + s) * sizeof(long);
        long inputBytes = (long)_batch * s * _hidden * sizeof(float) + maskBytes + (long)_batch * s * sizeof(long)
            + (_noise ? (long)_batch * s * sizeof(float) : 0) + (_windowMask is not null ? (long)s * s * sizeof(long) : 0);
        long logits = _deviceTopK?.ReadBackBytes(s) ?? (long)_batch * s * _codebook * sizeof(float);
        // Contract 2: the cache never crosses; the last commit's indices did. Contract 1: the past in, past + window out.
        long kvIn = _device is not null ? 0 : kvRow * p, kvOut = _device is not null ? 0 : kvRow * (p + s);
        LastBoundBytes = inputBytes + kvIn + (_device?.LastCommitBytes ?? 0);
        LastReadBackBytes = logits + kvOut;
        LastKvBytes = kvIn + kvOut;
    }

    // Contract 2: the cache, the new rows and the mask stay in the provider's memory. The binding
    // lives as long as the runner: the cache views are rebound when the stride grows, the new-rows
    // views and the logits when the window size changes. The host inputs are rebound when their
    // buffer or the window size changes where the provider reads host memory in place (CPU), and on
    // every pass where binding copies them to a device: there a binding is a snapshot.
    private void RunOnDevice(DeviceKvCache device, float[] embeds, int p, int s, RunOptions runOptions)
    {
        var mask = device.Prepare(p, s, runOptions);
        var binding = _binding ??= new DeviceBinding(_session, _transfer);
        bool cacheOnHost = _kvGraphs!.CacheIsHostInput;   // its views are then host inputs, bound again every pass
        if (_boundCache != device.CacheVersion || cacheOnHost)
        {
            for (int i = 0; i < 2 * _layers; i++) binding.BindInput(_inputNames[3 + i], device.Past(i), cacheOnHost);
            _boundCache = device.CacheVersion;
        }
        if (!ReferenceEquals(_boundMask, mask) || cacheOnHost)
        {
            binding.BindInput("attention_mask", mask, cacheOnHost);
            _boundMask = mask;
        }
        bool resized = _boundWindow != s;
        if (resized || !ReferenceEquals(_boundEmbeds, embeds) || binding.RenewsHostInputs)
        {
            binding.BindHostInput("inputs_embeds", HostView(embeds, s, [_batch, s, _hidden]));
            binding.BindHostInput("position_ids", HostView(_positions, s, [_batch, s]));
            if (_noise) binding.BindHostInput("noise_levels", HostView(_noiseLevels, s, [_batch, s]));
            if (_windowMask is not null) binding.BindHostInput("window_mask", HostView(_windowMask, s, [s, s]));
            _boundEmbeds = embeds;
        }
        if (resized)
        {
            binding.BindOutput("logits", _deviceTopK?.Logits(s) ?? HostView(_logits, s, [_batch, s, _codebook]));
            for (int i = 0; i < 2 * _layers; i++) binding.BindOutput(_outputNames[1 + i], device.NewRows(i, s));
            _boundWindow = s;
        }
        binding.Run(_session, runOptions);
        _deviceTopK?.Run(s, runOptions);
    }

    // A view of the first elements of a host buffer with this shape (for a window of s tokens), kept for the runner's lifetime.
    private OrtValue HostView<T>(T[] buffer, int window, long[] shape) where T : unmanaged
    {
        if (!_hostViews.TryGetValue((buffer, window), out var view))
        {
            long count = 1;
            foreach (long d in shape) count *= d;
            _hostViews[(buffer, window)] = view =
                OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, buffer.AsMemory(0, (int)count), shape);
        }
        return view;
    }

    // Contract 1: the past in host arrays, the present (past + window) back into the other buffer.
    private void RunOnHost(float[] embeds, int p, int s, RunOptions runOptions)
    {
        int total = p + s;
        for (int b = 0; b < _batch; b++)
        {
            var row = _mask.AsSpan(b * total, total);
            for (int t = 0; t < total; t++) row[t] = t >= _padding[b] ? 1 : 0;   // cached token t is visible iff not left padding
        }
        var mem = OrtMemoryInfo.DefaultInstance;
        var inputs = new List<OrtValue>(_inputNames.Length);
        var outputs = new List<OrtValue>(_outputNames.Length);
        try
        {
            inputs.Add(OrtValue.CreateTensorValueFromMemory(mem, embeds.AsMemory(0, _batch * s * _hidden), [_batch, s, _hidden]));
            inputs.Add(OrtValue.CreateTensorValueFromMemory(mem, _mask.AsMemory(0, _batch * total), [_batch, total]));
            inputs.Add(OrtValue.CreateTensorValueFromMemory(mem, _positions.AsMemory(0, _batch * s), [_batch, s]));
            for (int i = 0; i < 2 * _layers; i++) inputs.Add(Tensor(_past[i], [_batch, _heads, p, _headDim]));
            if (_noise) inputs.Add(OrtValue.CreateTensorValueFromMemory(mem, _noiseLevels.AsMemory(0, _batch * s), [_batch, s]));
            if (_windowMask is not null) inputs.Add(OrtValue.CreateTensorValueFromMemory(mem, _windowMask.AsMemory(0, s * s), [s, s]));
            outputs.Add(OrtValue.CreateTensorValueFromMemory(mem, _logits.AsMemory(0, _batch * s * _codebook), [_batch, s, _codebook]));
            for (int i = 0; i < 2 * _layers; i++) outputs.Add(Tensor(_present[i], [_batch, _heads, total, _headDim]));
            _session.Run(runOptions, _inputNames, inputs, _outputNames, outputs);
        }
        finally
        {
            foreach (var v in inputs) v.Dispose();
            foreach (var v in outputs) v.Dispose();
        }
    }

    /// <summary>Whether the provider reduces each pass's logits to their top k (<see cref="TopKValues"/>) instead of reading them all back (<see cref="Logits"/>).</summary>
    public bool SamplesOnDevice => _deviceTopK is not null;

    /// <summary>The last pass's top k logits (after CFG and temperature) at window position <paramref name="j"/>, descending.</summary>
    public ReadOnlySpan<float> TopKValues(int j) => DeviceTopKAt(j).Values(j);

    /// <summary>The codes of <see cref="TopKValues"/>, ties in code order.</summary>
    public ReadOnlySpan<int> TopKCodes(int j) => DeviceTopKAt(j).Codes(j);

    private DeviceTopK DeviceTopKAt(int j)
    {
        if (_deviceTopK is null) throw new InvalidOperationException("this runner reads back the logits; use Logits");
        if (j < 0 || j >= _lastWindow) throw new ArgumentOutOfRangeException(nameof(j));
        return _deviceTopK;
    }

    /// <summary>Logits of the last pass for row <paramref name="row"/>, window position <paramref name="j"/>.</summary>
    public ReadOnlySpan<float> Logits(int row, int j)
    {
        if (_deviceTopK is not null) throw new InvalidOperationException("the provider samples for this runner; use TopKValues");
        if (j < 0 || j >= _lastWindow) throw new ArgumentOutOfRangeException(nameof(j));
        return _logits.AsSpan((row * _lastWindow + j) * _codebook, _codebook);
    }

    /// <summary>Keeps the first <paramref name="keep"/> tokens of the last window in the cache, drops the rest.</summary>
    public void Commit(int keep)
    {
        if (keep < 0 || keep > _pending) throw new ArgumentOutOfRangeException(nameof(keep));
        for (int m = 0; m < keep; m++)
        {
            if (_offsets[m] != m)
                throw new InvalidOperationException($"window token {m} was fed at position offset {_offsets[m]}, it cannot be cached at offset {m}; commit the tree path by its indices");
            for (int i = 0; i < _pending; i++)
                if (i != m && Attended(m, i) != (i < m))
                    throw new InvalidOperationException($"window token {m} {(i < m ? "did not attend" : "attended")} window token {i}; commit the tree path by its indices");
        }
        if (_device is not null)
        {
            _device.Grow(Length + keep);
            Span<int> prefix = stackalloc int[keep];
            for (int m = 0; m < keep; m++) prefix[m] = m;
            _device.QueueCommit(prefix, Length, _pending);
            Length += keep;
            _pending = 0;
            return;
        }
        int total = Length + _pending, kept = Length + keep;
        if (kept < total)
            foreach (var buffer in _present) Compact(buffer, total, kept);
        (_past, _present) = (_present, _past);
        Length = kept;
        _pending = 0;
    }

    /// <summary>
    /// Keeps the window tokens <paramref name="kept"/> (indices into the last window, in the order
    /// they follow the cache: a root-to-leaf path of a tree pass) and drops the others. Token
    /// <c>kept[m]</c> must have been fed at position offset m, so that the cache stays a sequence.
    /// </summary>
    public void Commit(ReadOnlySpan<int> kept)
    {
        if (kept.Length > _pending) throw new ArgumentOutOfRangeException(nameof(kept), $"{kept.Length} tokens kept of a window of {_pending}");
        bool prefix = true;
        for (int m = 0; m < kept.Length; m++)
        {
            int j = kept[m];
            if (j < 0 || j >= _pending) throw new ArgumentOutOfRangeException(nameof(kept), $"window index {j} outside the window of {_pending}");
            for (int q = 0; q < m; q++)
                if (kept[q] == j) throw new ArgumentException($"window index {j} is kept twice", nameof(kept));
            if (_offsets[j] != m)
                throw new InvalidOperationException($"window token {j} was fed at position offset {_offsets[j]}, it cannot be cached at offset {m}");
            // Its cached keys were computed seeing exactly the kept tokens before it.
            for (int i = 0; i < _pending; i++)
                if (i != j && Attended(j, i) != kept[..m].Contains(i))
                    throw new InvalidOperationException($"window token {j} {(Attended(j, i) ? "attended" : "did not attend")} window token {i}; the kept tokens must be one path, each attending exactly those before it");
            prefix &= j == m;
        }
        if (prefix)
        {
            Commit(kept.Length);
            return;
        }
        if (_device is not null)
        {
            _device.Grow(Length + kept.Length);
            _device.QueueCommit(kept, Length, _pending);
            Length += kept.Length;
            _pending = 0;
            return;
        }
        int p = Length, total = p + _pending, keptTotal = p + kept.Length;
        foreach (var buffer in _present) CompactPath(buffer, p, total, keptTotal, kept);
        (_past, _present) = (_present, _past);
        Length = keptTotal;
        _pending = 0;
    }

    // Whether new token i of the pending window attended new token j.
    private bool Attended(int i, int j) => _windowMask is null ? j <= i : _windowMask[i * _pending + j] != 0;

    /// <summary>Rolls the cache back to <paramref name="length"/> tokens (≤ <see cref="Length"/>).</summary>
    public void Truncate(int length)
    {
        if (_pending != 0) throw new InvalidOperationException("commit the pending window first");
        if (length < 0 || length > Length) throw new ArgumentOutOfRangeException(nameof(length));
        if (length < Length && !_newRows)
            foreach (var buffer in _past) Compact(buffer, Length, length);
        Length = length;
    }

    /// <summary>Reads one cached key/value row (tests): layer, 0 = key / 1 = value, row, head, position.</summary>
    internal ReadOnlySpan<float> CachedRow(int layer, int kind, int row, int head, int position)
    {
        if (_device is not null) return _device.ReadRow(2 * layer + kind, row, head, position);
        int block = row * _heads + head;
        return _past[2 * layer + kind].AsSpan((block * Length + position) * _headDim, _headDim);
    }

    // [B·H, from, Dh] -> [B·H, to, Dh], in place; moving blocks front to back never overwrites unread data.
    private void Compact(float[] buffer, int from, int to)
    {
        int blocks = _batch * _heads, rowLen = _headDim;
        for (int blk = 1; blk < blocks; blk++)
            buffer.AsSpan(blk * from * rowLen, to * rowLen).CopyTo(buffer.AsSpan(blk * to * rowLen, to * rowLen));
    }

    // [B·H, total, Dh] -> [B·H, p + kept, Dh] keeping the first p rows and window rows p + kept[m], in place.
    // A block's kept rows go through scratch first: its destination may overlap them.
    private void CompactPath(float[] buffer, int p, int total, int keptTotal, ReadOnlySpan<int> kept)
    {
        int blocks = _batch * _heads, rowLen = _headDim;
        for (int blk = 0; blk < blocks; blk++)
        {
            for (int m = 0; m < kept.Length; m++)
                buffer.AsSpan((blk * total + p + kept[m]) * rowLen, rowLen).CopyTo(_scratchRows.AsSpan(m * rowLen, rowLen));
            if (blk > 0) buffer.AsSpan(blk * total * rowLen, p * rowLen).CopyTo(buffer.AsSpan(blk * keptTotal * rowLen, p * rowLen));
            _scratchRows.AsSpan(0, kept.Length * rowLen).CopyTo(buffer.AsSpan((blk * keptTotal + p) * rowLen, kept.Length * rowLen));
        }
    }

    private static OrtValue Tensor(float[] buffer, long[] shape)
    {
        long count = shape[0] * shape[1] * shape[2] * shape[3];
        // A zero-length past (first pass) cannot be pinned from an empty slice; let ORT allocate it.
        return count == 0
            ? OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, TensorElementType.Float, shape)
            : OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, buffer.AsMemory(0, (int)count), shape);
    }

    private static float[][] NewBuffers(int count, int size, Func<int, float[]> allocate)
    {
        var result = new float[count][];
        for (int i = 0; i < count; i++) result[i] = allocate(size);
        return result;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _binding?.Dispose();
        _deviceTopK?.Dispose();
        foreach (var view in _hostViews.Values) view.Dispose();
        if (_device is not null) _kvGraphs!.ReturnCache(_device);
    }
}
