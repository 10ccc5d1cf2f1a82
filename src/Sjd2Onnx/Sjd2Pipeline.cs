using Microsoft.ML.OnnxRuntime;
using Sjd2Onnx.Decoding;
using Sjd2Onnx.Imaging;
using Sjd2Onnx.Model;

namespace Sjd2Onnx;

/// <summary>
/// Text-to-image generation from a model folder: prompt → embeddings → transformer passes →
/// image codes → VQ decoder → pixels. Thread-safe for concurrent generations.
/// </summary>
public sealed partial class Sjd2Pipeline : IDisposable
{
    private readonly ModelSessions _sessions;
    private readonly PromptEncoder _prompts;
    private readonly VqDecoder _vqDecoder;
    private readonly Dictionary<(DecodingMethod, bool), WindowTuner> _tuners = [];
    private readonly BufferPool _buffers = new();
    // Dispose cancels the generations in flight and waits for them under this lock: a Run on a
    // disposed session crashes the process, so the sessions go only once no run is active.
    private readonly object _gate = new();
    private readonly CancellationTokenSource _disposing = new();
    private readonly ThreadLocal<int> _leasesOnThisThread = new();
    private bool _disposed, _sessionsDisposed;
    private int _active;

    private Sjd2Pipeline(string modelDir, ModelManifest manifest, ModelSessions sessions, PromptEncoder prompts)
    {
        ModelDirectory = modelDir;
        Manifest = manifest;
        _sessions = sessions;
        _prompts = prompts;
        _vqDecoder = new VqDecoder(sessions.VqDecoder, manifest.Image);
    }

    /// <summary>The model folder.</summary>
    public string ModelDirectory { get; }

    /// <summary>The model's validated manifest.</summary>
    public ModelManifest Manifest { get; }

    /// <summary>
    /// Whether the transformer has tree attention (the optional <c>window_mask</c> input), which
    /// <see cref="DecodingMethod.Pac"/> needs for draft trees; without it PAC decodes chains.
    /// </summary>
    public bool SupportsTreeAttention => _sessions.HasTreeAttention;

    /// <summary>The execution provider the graphs run on: the first of <see cref="PipelineOptions.Provider"/> and its fallbacks that loaded.</summary>
    public ExecutionProvider Provider => _sessions.Provider;

    /// <summary>Why each provider tried before <see cref="Provider"/> could not be used, one line each (empty when the first one loaded).</summary>
    public IReadOnlyList<string> ProviderFallbacks => _sessions.ProviderFallbacks;

    /// <summary>The model's ONNX sessions (<c>sjd2 bench --passes</c> drives the transformer directly).</summary>
    internal ModelSessions Sessions => _sessions;

    /// <summary>Opens a model folder: reads and validates model.json, loads the tokenizer and the four graphs.</summary>
    /// <exception cref="Sjd2Exception">
    /// The folder, manifest or a graph is unusable, an option is invalid, no requested provider loads,
    /// or the ONNX Runtime native library is missing.
    /// </exception>
    public static Sjd2Pipeline Load(string modelDir, PipelineOptions? options = null)
    {
        options ??= new PipelineOptions();
        options.Validate();
        var manifest = ManifestReader.Load(modelDir);
        var prompts = new PromptEncoder(modelDir, manifest);
        var sessions = ModelSessions.Open(modelDir, manifest, options);
        try
        {
            TokenIdCheck.Check(sessions, manifest, prompts);
        }
        catch
        {
            sessions.Dispose();
            throw;
        }
        return new Sjd2Pipeline(modelDir, manifest, sessions, prompts);
    }

    /// <summary>Tokenizes a prompt (template excluded); throws for empty or too long prompts.</summary>
    public IReadOnlyList<int> Tokenize(string prompt) => _prompts.Tokenize(prompt);

    /// <summary>Generates one image.</summary>
    /// <exception cref="Sjd2Exception">Empty or too long prompt, or impossible options.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled.</exception>
    public Task<GenerationResult> GenerateAsync(string prompt, GenerationOptions? options = null,
        IProgress<DecodeProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        options ??= new GenerationOptions();
        var sampling = options.ResolveSampling(Manifest.Sampling);
        long[] cond = _prompts.Conditional(prompt);
        long[]? uncond = sampling.UsesGuidance ? _prompts.Unconditional(prompt) : null;
        var decoder = CreateDecoder(options, sampling);
        return Task.Run(() =>
        {
            using var lease = Enter();
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposing.Token);
            using var runOptions = new RunOptions();
            using var registration = linked.Token.Register(() => runOptions.Terminate = true);
            try
            {
                var (codes, statistics) = DecodeCodes(cond, uncond, sampling, options.Seed, decoder, runOptions, linked.Token,
                    progress is null ? null : progress.Report);
                var image = DecodeImage(codes, runOptions, linked.Token);
                return new GenerationResult(codes, image, statistics) { Prompt = prompt, Options = options, Sampling = sampling, ModelName = Manifest.Name };
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new ObjectDisposedException(nameof(Sjd2Pipeline), "the pipeline was disposed while this generation ran.");
            }
        }, cancellationToken);
    }

    /// <summary>
    /// Image codes only (no VQ decoding), synchronously: the exactness tests draw tens of
    /// thousands of samples through the real decoders with it.
    /// </summary>
    internal (int[] Codes, PassStatistics Statistics) GenerateCodes(string prompt, GenerationOptions options, Action<DecodeProgress>? progress = null)
    {
        var sampling = options.ResolveSampling(Manifest.Sampling);
        long[] cond = _prompts.Conditional(prompt);
        long[]? uncond = sampling.UsesGuidance ? _prompts.Unconditional(prompt) : null;
        var decoder = CreateDecoder(options, sampling);
        using var lease = Enter();
        using var runOptions = new RunOptions();
        return DecodeCodes(cond, uncond, sampling, options.Seed, decoder, runOptions, CancellationToken.None, progress);
    }

    private (int[] Codes, PassStatistics Statistics) DecodeCodes(long[] cond, long[]? uncond, Sampling.SamplingSettings sampling, ulong seed,
        IImageTokenDecoder decoder, RunOptions runOptions, CancellationToken cancellationToken, Action<DecodeProgress>? progress)
    {
        using var buffers = _buffers.NewLease();
        using var ctx = new DecodingContext(_sessions, Manifest, cond, uncond, sampling, seed, decoder.MaxWindow,
            runOptions, cancellationToken, progress, buffers.Floats);
        ctx.Prefill();
        int[] codes = decoder.Decode(ctx);
        ctx.Finish();
        return (codes, ctx.Statistics);
    }

    /// <summary>Decodes image codes (row-major, grid height × width) to pixels with the VQ decoder.</summary>
    public RgbImage DecodeImage(int[] codes)
    {
        using var lease = Enter();
        using var runOptions = new RunOptions();
        return DecodeImage(codes, runOptions, CancellationToken.None);
    }

    private RgbImage DecodeImage(int[] codes, RunOptions runOptions, CancellationToken cancellationToken) =>
        _vqDecoder.Decode(codes, runOptions, cancellationToken);

    private IImageTokenDecoder CreateDecoder(GenerationOptions options, Sampling.SamplingSettings sampling)
    {
        WindowTuner? tuner = null;
        if (options.Decoding is SpeculativeOptions { AutoWindow: true })
        {
            // Pass costs depend on the batch (CFG doubles it) and acceptance on the method.
            lock (_tuners)
            {
                var key = (options.Method, sampling.UsesGuidance);
                if (!_tuners.TryGetValue(key, out tuner)) _tuners[key] = tuner = new WindowTuner();
            }
        }
        return options.Decoding.CreateDecoder(Manifest, tuner);
    }

    /// <summary>Bytes of large buffers the pipeline keeps for the next generations (soak tests).</summary>
    internal long PooledBufferBytes => _buffers.PooledBytes;

    /// <summary>Whether <see cref="Dispose"/> has begun (tests).</summary>
    internal bool IsDisposing => _disposing.IsCancellationRequested;

    /// <summary>
    /// Cancels the generations in flight (they end with <see cref="ObjectDisposedException"/>), waits
    /// for their current ONNX Runtime call to stop, then releases the sessions. Called from inside a
    /// generation (a progress callback), it returns at once and the sessions go when that generation ends.
    /// </summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
        }
        _disposing.Cancel();
        lock (_gate)
        {
            if (_leasesOnThisThread.Value == 0)
                while (_active > 0) Monitor.Wait(_gate);
            if (_active > 0) return; // the last generation out releases the sessions
            ReleaseSessions();
        }
    }

    // Under _gate, once no run is active.
    private void ReleaseSessions()
    {
        if (_sessionsDisposed) return;
        _sessionsDisposed = true;
        _sessions.Dispose();
    }

    private Lease Enter()
    {
        lock (_gate)
        {
            if (_disposed) throw new ObjectDisposedException(nameof(Sjd2Pipeline));
            _active++;
        }
        _leasesOnThisThread.Value++;
        return new Lease(this);
    }

    private void Leave()
    {
        _leasesOnThisThread.Value--;
        lock (_gate)
        {
            _active--;
            if (_active > 0) return;
            Monitor.PulseAll(_gate);
            if (_disposed) ReleaseSessions();
        }
    }

    private readonly struct Lease(Sjd2Pipeline owner) : IDisposable
    {
        public void Dispose() => owner.Leave();
    }
}
