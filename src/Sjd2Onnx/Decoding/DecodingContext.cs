using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using Sjd2Onnx.Model;
using Sjd2Onnx.Sampling;

namespace Sjd2Onnx.Decoding;

/// <summary>
/// Everything a decoder needs for one image: the transformer with its KV cache, embeddings of
/// codes and forced tokens, the sampling pipeline and the random stream. Decoders talk in slots
/// (see <see cref="ImageLayout"/>); this class turns slots into embeddings and logits into
/// distributions.
/// </summary>
internal sealed class DecodingContext : IDisposable
{
    private readonly ModelSessions _sessions;
    private readonly RunOptions _runOptions;
    private readonly CancellationToken _cancellation;
    private readonly Action<DecodeProgress>? _progress;
    private readonly float[] _windowEmbeds;     // [B, maxWindow, D]
    private readonly float[] _endOfLine;        // [D] text embedding of the end-of-line token
    private readonly long[] _codeIds;           // image-embedding graph input, [1, maxWindow]
    private readonly float[] _codeEmbeds;       // image-embedding graph output, [1, maxWindow, D]
    private readonly float[] _noiseRows;        // noise_levels for every batch row, [B, maxWindow]
    private readonly Stopwatch _transformerClock = new();
    private readonly Stopwatch _embeddingClock = new();
    private long _distributionTicks;
    private readonly Stopwatch _totalClock = Stopwatch.StartNew();
    private readonly long[] _prefixIds;
    private readonly int _prefixLength;
    private readonly int[] _padding;

    public DecodingContext(ModelSessions sessions, ModelManifest manifest, long[] condIds, long[]? uncondIds,
        SamplingSettings sampling, ulong seed, int maxWindow, RunOptions runOptions, CancellationToken cancellation,
        Action<DecodeProgress>? progress, Func<int, float[]>? allocate = null)
    {
        allocate ??= n => new float[n]; // the pipeline passes its buffer pool
        _sessions = sessions;
        Manifest = manifest;
        _runOptions = runOptions;
        _cancellation = cancellation;
        _progress = progress;
        Layout = new ImageLayout(manifest.Image, manifest.Sequence.EndOfLineId);
        Hidden = manifest.Transformer.HiddenSize;
        Codebook = manifest.Image.CodebookSize;
        Batch = uncondIds is null ? 1 : 2;
        Distributions = new DistributionBuilder(sampling, Codebook);
        Random = new SeededRandom(seed);

        _prefixLength = Math.Max(condIds.Length, uncondIds?.Length ?? 0);
        _padding = [_prefixLength - condIds.Length, .. uncondIds is null ? Array.Empty<int>() : [_prefixLength - uncondIds.Length]];
        _prefixIds = new long[Batch * _prefixLength];
        condIds.CopyTo(_prefixIds, _padding[0]);
        uncondIds?.CopyTo(_prefixIds, _prefixLength + _padding[1]);

        MaxWindow = Math.Max(1, Math.Min(maxWindow, Layout.SlotCount));
        int runnerWindow = Math.Max(MaxWindow, _prefixLength);
        int capacity = _prefixLength + Layout.SlotCount + MaxWindow;
        int? firstImage = manifest.Sequence.FirstImagePosition;
        if (firstImage is int f && _prefixLength > f)
            throw new Sjd2Exception($"the prompt with its template takes {_prefixLength} tokens, this model fits at most {f} before the image; shorten the prompt.");
        int positionsNeeded = (firstImage ?? _prefixLength) + Layout.SlotCount;
        if (positionsNeeded > manifest.Transformer.MaxSequenceLength)
            throw new Sjd2Exception($"prompt and image need {positionsNeeded} positions, the model allows {manifest.Transformer.MaxSequenceLength}; shorten the prompt.");
        // Renting and zeroing the KV cache runs graphs on the device: it counts as transformer time.
        _transformerClock.Start();
        // The provider samples where it can: top-k without top-p (top-p needs every probability).
        bool deviceSampling = sessions.TopKSampler is not null && sampling.TopK > 0 && sampling.TopK < Codebook && sampling.TopP >= 1f;
        Runner = new TransformerRunner(sessions, manifest, Batch, capacity, runnerWindow, allocate: allocate,
            deviceSampling: deviceSampling ? sampling : null);
        _transformerClock.Stop();
        Runner.SetPadding(_padding);
        if (firstImage is int first)
        {
            // every row's first image slot (cache index PrefixLength) gets position `first`
            var shift = new int[Batch];
            for (int b = 0; b < Batch; b++) shift[b] = first - (_prefixLength - _padding[b]);
            Runner.SetPositionShift(shift);
        }
        _windowEmbeds = allocate(Batch * runnerWindow * Hidden);
        _codeIds = new long[runnerWindow];
        _codeEmbeds = allocate(runnerWindow * Hidden);
        _noiseRows = new float[Batch * runnerWindow];
        _endOfLine = manifest.Sequence.EndOfLineId is long eol ? EmbedText([eol]) : [];
    }

    public ModelManifest Manifest { get; }
    public ImageLayout Layout { get; }
    public TransformerRunner Runner { get; }
    public DistributionBuilder Distributions { get; }
    public SeededRandom Random { get; }
    public PassStatistics Statistics { get; } = new();
    public int Hidden { get; }
    public int Codebook { get; }
    public int Batch { get; }
    public int MaxWindow { get; }

    public void Commit(int count) => Runner.Commit(count);
    public void Commit(ReadOnlySpan<int> nodes) => Runner.Commit(nodes);
    public bool SupportsTreeAttention => Runner.SupportsTreeAttention;

    /// <summary>Cache length once all prefix tokens are in: slot s sits at cache index PrefixLength + s.</summary>
    public int PrefixLength => _prefixLength;

    /// <summary>Feeds the prompt rows; afterwards window position PrefixLength−1 predicts slot 0.</summary>
    public void Prefill()
    {
        var embeds = RunEmbedding(_sessions.TextEmbedding, "input_ids", _prefixIds, Batch, _prefixLength);
        RunTransformer(embeds, _prefixLength, default, default, default);
        Runner.Commit(_prefixLength);
    }

    /// <summary>The window embedding buffer [B, S, D] that <see cref="RunWindow(int, ReadOnlySpan{float})"/> feeds; rows share the image part.</summary>
    public Span<float> WindowRow(int row, int s) => _windowEmbeds.AsSpan(row * s * Hidden, s * Hidden);

    /// <summary>
    /// Writes the clean embeddings of <paramref name="codes"/> (or of the forced token where
    /// a slot is forced) for the window slots starting at <paramref name="firstSlot"/> into row 0 of the window buffer.
    /// </summary>
    public void EmbedSlots(int firstSlot, ReadOnlySpan<int> codes, int s)
    {
        int n = 0;
        for (int j = 0; j < s; j++)
            if (!Layout.IsForced(firstSlot + j)) _codeIds[n++] = codes[j];
        var row0 = WindowRow(0, s);
        if (n > 0) EmbedImageCodes(n);
        int k = 0;
        for (int j = 0; j < s; j++)
        {
            var dst = row0.Slice(j * Hidden, Hidden);
            if (Layout.IsForced(firstSlot + j)) _endOfLine.CopyTo(dst);
            else _codeEmbeds.AsSpan(k++ * Hidden, Hidden).CopyTo(dst);
        }
    }

    /// <summary>
    /// Raw (clean) image embeddings of up to <see cref="MaxWindow"/>-sized batches of codes into
    /// <paramref name="destination"/> ([n, D]) without allocating buffers (the hot loop of SJD2).
    /// </summary>
    public void EmbedCodes(ReadOnlySpan<int> codes, Span<float> destination)
    {
        for (int start = 0; start < codes.Length; start += _codeIds.Length)
        {
            int n = Math.Min(_codeIds.Length, codes.Length - start);
            for (int i = 0; i < n; i++) _codeIds[i] = codes[start + i];
            EmbedImageCodes(n);
            _codeEmbeds.AsSpan(0, n * Hidden).CopyTo(destination.Slice(start * Hidden, n * Hidden));
        }
    }

    /// <summary>Forced-token embedding of a slot (end-of-line).</summary>
    public ReadOnlySpan<float> ForcedEmbedding => _endOfLine;

    /// <summary>Copies row 0 of the window into the other rows and runs one pass over s tokens.</summary>
    public void RunWindow(int s, ReadOnlySpan<float> noise = default) => RunWindow(s, noise, default, default);

    /// <summary>
    /// Like <see cref="RunWindow(int, ReadOnlySpan{float})"/> but as a tree pass: per-token position
    /// offsets and a window mask, see <see cref="TransformerRunner.Run(float[], int, ReadOnlySpan{float}, ReadOnlySpan{int}, ReadOnlySpan{bool}, RunOptions)"/>;
    /// keep the accepted path with <see cref="TransformerRunner.Commit(ReadOnlySpan{int})"/>.
    /// </summary>
    public void RunWindow(int s, ReadOnlySpan<float> noise, ReadOnlySpan<int> positionOffsets, ReadOnlySpan<bool> windowMask)
    {
        var row0 = WindowRow(0, s);
        for (int b = 1; b < Batch; b++) row0.CopyTo(_windowEmbeds.AsSpan(b * s * Hidden, s * Hidden));
        Span<float> noiseRows = default;
        if (!noise.IsEmpty)
        {
            noiseRows = _noiseRows.AsSpan(0, Batch * s);
            for (int b = 0; b < Batch; b++) noise[..s].CopyTo(noiseRows.Slice(b * s, s));
        }
        RunTransformer(_windowEmbeds, s, noiseRows, positionOffsets, windowMask);
        Statistics.FedPerPass.Add(s);
    }

    /// <summary>Distribution (after CFG and sampling settings) predicted at window position j of the last pass.</summary>
    public void Distribution(int j, Span<float> probs)
    {
        long start = Stopwatch.GetTimestamp();
        if (Runner.SamplesOnDevice) Distributions.BuildFromTopK(Runner.TopKValues(j), Runner.TopKCodes(j), probs);
        else Distributions.Build(Runner.Logits(0, j), Batch > 1 ? Runner.Logits(1, j) : default, probs);
        _distributionTicks += Stopwatch.GetTimestamp() - start;
    }

    /// <summary>Records how many slots a pass committed and reports progress.</summary>
    public void ReportCommitted(int committedSlots, int totalCommitted, int[] codes, int[]? draftCodes = null)
    {
        Statistics.CommittedPerPass.Add(committedSlots);
        // Copies: the decoders keep overwriting their arrays, a report must stay as it was (previews, traces).
        _progress?.Invoke(new DecodeProgress(Statistics.Passes, Math.Min(totalCommitted, Layout.SlotCount), Layout.SlotCount,
            (int[])codes.Clone(), (int[]?)draftCodes?.Clone()));
    }

    public void Finish()
    {
        // The KV cache's host bookkeeping ran inside the transformer's clock but outside ONNX Runtime.
        Statistics.KvCacheTime = Runner.KvCacheHostTime;
        Statistics.TransformerTime = _transformerClock.Elapsed - Statistics.KvCacheTime;
        Statistics.EmbeddingTime = _embeddingClock.Elapsed;
        Statistics.DistributionTime = Stopwatch.GetElapsedTime(0, _distributionTicks);
        Statistics.TotalTime = _totalClock.Elapsed;
    }

    private float[] EmbedText(long[] ids) => RunEmbedding(_sessions.TextEmbedding, "input_ids", ids, 1, ids.Length);

    private void RunTransformer(float[] embeds, int s, ReadOnlySpan<float> noise, ReadOnlySpan<int> positionOffsets, ReadOnlySpan<bool> windowMask)
    {
        _cancellation.ThrowIfCancellationRequested();
        _transformerClock.Start();
        try { Runner.Run(embeds, s, noise, positionOffsets, windowMask, _runOptions); }
        catch (OnnxRuntimeException) when (_cancellation.IsCancellationRequested) { throw new OperationCanceledException(_cancellation); }
        catch (OnnxRuntimeException e) { throw GraphContract.RunFailed("transformer", e); }
        finally { _transformerClock.Stop(); }
        Statistics.Passes++;
        Statistics.BoundBytes += Runner.LastBoundBytes;
        Statistics.ReadBackBytes += Runner.LastReadBackBytes;
        Statistics.KvBytes += Runner.LastKvBytes;
    }

    // The first n of _codeIds into _codeEmbeds: from the model's table when it has one, else by the graph.
    private void EmbedImageCodes(int n)
    {
        if (_sessions.ImageTable is not { } table)
        {
            RunEmbedding(_sessions.ImageEmbedding, "image_codes", _codeIds.AsMemory(0, n), 1, n, _codeEmbeds);
            return;
        }
        _embeddingClock.Start();
        table.Lookup(_codeIds.AsSpan(0, n), _codeEmbeds);
        _embeddingClock.Stop();
    }

    // Into a preallocated output: the speculative decoders embed every pass.
    private void RunEmbedding(InferenceSession session, string inputName, Memory<long> ids, int batch, int length, float[] destination)
    {
        _embeddingClock.Start();
        try
        {
            using var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, ids, [batch, length]);
            using var output = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, destination.AsMemory(0, batch * length * Hidden), [batch, length, Hidden]);
            session.Run(_runOptions, [inputName], [input], ["inputs_embeds"], [output]);
        }
        catch (OnnxRuntimeException) when (_cancellation.IsCancellationRequested) { throw new OperationCanceledException(_cancellation); }
        catch (OnnxRuntimeException e) { throw GraphContract.RunFailed(inputName == "input_ids" ? "text_embedding" : "image_embedding", e); }
        finally { _embeddingClock.Stop(); }
    }

    private float[] RunEmbedding(InferenceSession session, string inputName, Memory<long> ids, int batch, int length)
    {
        var result = new float[batch * length * Hidden];
        RunEmbedding(session, inputName, ids, batch, length, result);
        return result;
    }

    public void Dispose() => Runner.Dispose();
}
