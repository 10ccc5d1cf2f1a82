using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using Sjd2Onnx.Model;
using Sjd2Onnx.Sampling;

namespace Sjd2Onnx.Decoding;

/// <summary>
/// Everything a decoder needs for one image: the transformer with its KV cache, embeddings, the
/// sampling pipeline and the random stream. Decoders talk in slots (<see cref="ImageLayout"/>);
/// this class turns slots into embeddings and logits into distributions.
/// </summary>
internal sealed class DecodingContext : IDisposable
{
    private readonly TextEncoder _text;
    private readonly ImageEmbedder _images;
    private readonly RunOptions _runOptions;
    private readonly CancellationToken _cancellation;
    private readonly Action<DecodeProgress>? _progress;
    private readonly float[] _windowEmbeds;     // [B, maxWindow, D]
    private readonly float[] _endOfLine;        // [D] text embedding of the end-of-line token
    private readonly int[] _slotCodes;          // the codes of a window's slots that are not forced, [maxWindow]
    private readonly float[] _noiseRows;        // noise_levels for every batch row, [B, maxWindow]
    private readonly Stopwatch _transformerClock = new(), _embeddingClock = new(), _totalClock = Stopwatch.StartNew();
    private long _distributionTicks;
    private readonly PromptRows _prompt;

    public DecodingContext(ModelSessions sessions, ModelManifest manifest, long[] condIds, long[]? uncondIds,
        SamplingSettings sampling, ulong seed, int maxWindow, RunOptions runOptions, CancellationToken cancellation,
        Action<DecodeProgress>? progress, Func<int, float[]>? allocate = null)
    {
        allocate ??= n => new float[n]; // the pipeline passes its buffer pool
        Manifest = manifest;
        (_runOptions, _cancellation, _progress) = (runOptions, cancellation, progress);
        Layout = new ImageLayout(manifest.Image, manifest.Sequence.EndOfLineId);
        (Hidden, Codebook) = (manifest.Transformer.HiddenSize, manifest.Image.CodebookSize);
        _text = new TextEncoder(sessions.TextEmbedding, Hidden);
        (Distributions, Random) = (new DistributionBuilder(sampling, Codebook), new SeededRandom(seed));
        _prompt = new PromptRows(manifest, condIds, uncondIds, Layout.SlotCount);
        Batch = _prompt.Batch;
        MaxWindow = Math.Max(1, Math.Min(maxWindow, Layout.SlotCount));
        int runnerWindow = Math.Max(MaxWindow, PrefixLength);
        int capacity = PrefixLength + Layout.SlotCount + MaxWindow;
        // Renting and zeroing the KV cache runs graphs on the device: it counts as transformer time.
        _transformerClock.Start();
        // The provider samples where it can: top-k without top-p (top-p needs every probability).
        bool deviceSampling = sessions.TopKSampler is not null && sampling.TopK > 0 && sampling.TopK < Codebook && sampling.TopP >= 1f;
        Transformer = new Transformer(sessions, manifest, Batch, capacity, runnerWindow, allocate: allocate,
            deviceSampling: deviceSampling ? sampling : null, cancellation: cancellation);
        _transformerClock.Stop();
        Transformer.SetPadding(_prompt.Padding);
        if (_prompt.PositionShift is { } shift) Transformer.SetPositionShift(shift);
        _windowEmbeds = allocate(Batch * runnerWindow * Hidden);
        _slotCodes = new int[runnerWindow];
        _images = sessions.ImageTable is { } table
            ? new ImageEmbedder(table, Hidden)
            : new ImageEmbedder(sessions.ImageEmbedding, Hidden, runnerWindow, allocate);
        _noiseRows = new float[Batch * runnerWindow];
        _endOfLine = manifest.Sequence.EndOfLineId is long eol ? EmbedText([eol], 1, 1) : [];
    }

    public ModelManifest Manifest { get; }
    public ImageLayout Layout { get; }
    public Transformer Transformer { get; }
    public DistributionBuilder Distributions { get; }
    public SeededRandom Random { get; }
    public PassStatistics Statistics { get; } = new();
    public int Hidden { get; }
    public int Codebook { get; }
    public int Batch { get; }
    public int MaxWindow { get; }

    /// <summary>Cache length once all prefix tokens are in: slot s sits at cache index PrefixLength + s.</summary>
    public int PrefixLength => _prompt.Length;

    /// <summary>Whether the transformer runs tree passes (<see cref="RunWindow(int, ReadOnlySpan{float}, ReadOnlySpan{int}, ReadOnlySpan{bool})"/> with a mask).</summary>
    public bool SupportsTreeAttention => Transformer.SupportsTreeAttention;

    /// <summary>Feeds the prompt rows; afterwards window position PrefixLength−1 predicts slot 0.</summary>
    public void Prefill()
    {
        var embeds = EmbedText(_prompt.Ids, Batch, PrefixLength);
        RunTransformer(embeds, PrefixLength, default, default, default);
        Transformer.Commit(PrefixLength);
    }

    /// <summary>Keeps the first <paramref name="count"/> tokens of the last window in the KV cache, drops the rest.</summary>
    public void Commit(int count) => Transformer.Commit(count);

    /// <summary>Keeps the window tokens <paramref name="nodes"/> (a root-to-leaf path of a tree pass) in the KV cache, drops the rest.</summary>
    public void Commit(ReadOnlySpan<int> nodes) => Transformer.Commit(nodes);

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
            if (!Layout.IsForced(firstSlot + j)) _slotCodes[n++] = codes[j];
        var row0 = WindowRow(0, s);
        EmbedCodes(_slotCodes.AsSpan(0, n), row0);
        // Spread the n embeddings over their slots back to front: embedding k goes to a slot j ≥ k,
        // so none is overwritten before it moves.
        for (int j = s - 1, k = n - 1; j >= 0; j--)
        {
            if (Layout.IsForced(firstSlot + j)) _endOfLine.CopyTo(row0.Slice(j * Hidden, Hidden));
            else if (k-- != j) row0.Slice((k + 1) * Hidden, Hidden).CopyTo(row0.Slice(j * Hidden, Hidden));
        }
    }

    /// <summary>
    /// Raw (clean) image embeddings of up to <see cref="MaxWindow"/>-sized batches of codes into
    /// <paramref name="destination"/> ([n, D]) without allocating buffers (the hot loop of SJD2).
    /// </summary>
    public void EmbedCodes(ReadOnlySpan<int> codes, Span<float> destination)
    {
        if (codes.IsEmpty) return;
        _embeddingClock.Start();
        try { _images.Embed(codes, destination, _runOptions, _cancellation); }
        finally { _embeddingClock.Stop(); }
    }

    /// <summary>Forced-token embedding of a slot (end-of-line).</summary>
    public ReadOnlySpan<float> ForcedEmbedding => _endOfLine;

    /// <summary>Copies row 0 of the window into the other rows and runs one pass over s tokens.</summary>
    public void RunWindow(int s, ReadOnlySpan<float> noise = default) => RunWindow(s, noise, default, default);

    /// <summary>
    /// Like <see cref="RunWindow(int, ReadOnlySpan{float})"/> but as a tree pass: per-token position
    /// offsets and a window mask, see <see cref="Model.Transformer.Run(float[], int, ReadOnlySpan{float}, ReadOnlySpan{int}, ReadOnlySpan{bool}, RunOptions)"/>;
    /// keep the accepted path with <see cref="Commit(ReadOnlySpan{int})"/>.
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
        Statistics.Fed.Add(s);
    }

    /// <summary>Distribution (after CFG and sampling settings) predicted at window position j of the last pass.</summary>
    public void Distribution(int j, Span<float> probs)
    {
        long start = Stopwatch.GetTimestamp();
        if (Transformer.SamplesOnDevice) Distributions.BuildFromTopK(Transformer.TopKValues(j), Transformer.TopKCodes(j), probs);
        else Distributions.Build(Transformer.Logits(0, j), Batch > 1 ? Transformer.Logits(1, j) : default, probs);
        _distributionTicks += Stopwatch.GetTimestamp() - start;
    }

    /// <summary>Records how many slots a pass committed and reports progress.</summary>
    public void ReportCommitted(int committedSlots, int totalCommitted, int[] codes, int[]? draftCodes = null)
    {
        Statistics.Committed.Add(committedSlots);
        // Copies: the decoders keep overwriting their arrays, a report must stay as it was (previews, traces).
        _progress?.Invoke(new DecodeProgress(Statistics.Passes, Math.Min(totalCommitted, Layout.SlotCount), Layout.SlotCount,
            (int[])codes.Clone(), (int[]?)draftCodes?.Clone()));
    }

    public void Finish()
    {
        // The KV cache's host bookkeeping ran inside the transformer's clock but outside ONNX Runtime.
        Statistics.KvCacheTime = Transformer.KvCacheHostTime;
        Statistics.TransformerTime = _transformerClock.Elapsed - Statistics.KvCacheTime;
        Statistics.EmbeddingTime = _embeddingClock.Elapsed;
        Statistics.DistributionTime = Stopwatch.GetElapsedTime(0, _distributionTicks);
        Statistics.TotalTime = _totalClock.Elapsed;
    }

    private float[] EmbedText(long[] ids, int batch, int length)
    {
        _embeddingClock.Start();
        try { return _text.Embed(ids, batch, length, _runOptions, _cancellation); }
        finally { _embeddingClock.Stop(); }
    }

    private void RunTransformer(float[] embeds, int s, ReadOnlySpan<float> noise, ReadOnlySpan<int> positionOffsets, ReadOnlySpan<bool> windowMask)
    {
        _transformerClock.Start();
        try { Transformer.Run(embeds, s, noise, positionOffsets, windowMask, _runOptions); }
        finally { _transformerClock.Stop(); }
        Statistics.Passes++;
        Statistics.BoundBytes += Transformer.LastBoundBytes;
        Statistics.ReadBackBytes += Transformer.LastReadBackBytes;
        Statistics.KvBytes += Transformer.LastKvBytes;
    }

    public void Dispose() => Transformer.Dispose();
}
