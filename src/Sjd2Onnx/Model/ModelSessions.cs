using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using static Sjd2Onnx.Model.GraphContract;

namespace Sjd2Onnx.Model;

/// <summary>The four ONNX sessions of a model folder, checked against its manifest.</summary>
internal sealed class ModelSessions : IDisposable
{
    public InferenceSession TextEmbedding { get; }
    /// <summary>
    /// The image-embedding graph. With an <see cref="ImageTable"/> the session is closed once the table
    /// is read (its weights would be a second copy of the table) and opened again only when something
    /// runs the graph itself (<c>sjd2 parity</c>).
    /// </summary>
    public InferenceSession ImageEmbedding
    {
        get
        {
            lock (_imageLock) return _image ??= _reopenImage!();
        }
    }
    public InferenceSession Transformer { get; }
    public InferenceSession VqDecoder { get; }
    public bool HasNoiseInput { get; }

    /// <summary>The image embedding of every code, when the graph is a per-code function small enough to tabulate.</summary>
    public ImageEmbeddingTable? ImageTable { get; private init; }

    /// <summary>Intra-op threads each graph was opened with.</summary>
    public ThreadPlan Threads { get; private init; } = new(0, 0, 0, 0);

    /// <summary>Contract-2 transformers: the graphs that keep the KV cache on the provider's device.</summary>
    public KvCacheGraphs? KvGraphs { get; }

    /// <summary>Whether the transformer follows contract 2 (<c>new_key_values.*</c> outputs: only the window's new rows).</summary>
    public bool ReturnsNewRows => KvGraphs is not null;

    /// <summary>Whether the transformer takes the optional <c>window_mask</c> input (tree attention).</summary>
    public bool HasTreeAttention { get; private init; }

    /// <summary>Contract 2 where the provider samples (<see cref="PipelineOptions.SampleOnDevice"/>): the top-k graphs.</summary>
    public TopKSampler? TopKSampler { get; private init; }

    /// <summary>How host inputs bound to the transformer and the KV cache graphs reach the provider.</summary>
    public HostInputTransfer HostInputs { get; private init; }

    /// <summary>The provider the sessions run on (the first of the requested ones that loaded).</summary>
    public ExecutionProvider Provider { get; private set; }

    /// <summary>Why each provider requested before <see cref="Provider"/> could not be used, one line each.</summary>
    public IReadOnlyList<string> ProviderFallbacks { get; private set; } = [];

    private IDisposable? _logRoute;
    private readonly Lock _imageLock = new();
    private InferenceSession? _image;
    private readonly Func<InferenceSession>? _reopenImage;

    private ModelSessions(InferenceSession text, InferenceSession? image, Func<InferenceSession>? reopenImage, InferenceSession transformer,
        InferenceSession vq, bool hasNoise, KvCacheGraphs? kvGraphs)
    {
        TextEmbedding = text; _image = image; _reopenImage = reopenImage; Transformer = transformer; VqDecoder = vq;
        HasNoiseInput = hasNoise; KvGraphs = kvGraphs;
    }

    public static ModelSessions Open(string modelDir, ModelManifest m, ExecutionProvider provider, int deviceId) =>
        Open(modelDir, m, new PipelineOptions { Provider = provider, DeviceId = deviceId });

    /// <summary>
    /// Opens the four graphs on the first provider of <paramref name="settings"/> that loads; a provider
    /// that fails (package, libraries, driver, device) is skipped with its reason, a broken graph is not.
    /// </summary>
    public static ModelSessions Open(string modelDir, ModelManifest m, PipelineOptions settings)
    {
        settings.Validate();
        string logId = OnnxRuntimeEnvironment.NewSessionLogId();
        var logRoute = settings.OnnxRuntimeLog is { } sink ? OnnxRuntimeEnvironment.Listen(logId, sink, settings.OnnxRuntimeLogLevel) : null;
        var skipped = new List<string>();
        try
        {
            foreach (var provider in settings.ProvidersInOrder())
            {
                try
                {
                    var sessions = OpenOn(modelDir, m, provider, settings, logId);
                    sessions.Provider = provider;
                    sessions.ProviderFallbacks = skipped;
                    sessions._logRoute = logRoute;
                    return sessions;
                }
                catch (ProviderUnavailableException e) { skipped.Add(e.Message); }
            }
        }
        catch
        {
            logRoute?.Dispose();
            throw;
        }
        logRoute?.Dispose();
        throw new Sjd2Exception(skipped.Count == 1
            ? $"{skipped[0]}."
            : $"no execution provider could be loaded: {string.Join("; ", skipped)}.");
    }

    private static ModelSessions OpenOn(string modelDir, ModelManifest m, ExecutionProvider provider, PipelineOptions settings, string logId)
    {
        using var options = SessionFactory.CreateOptions(provider, settings, logId);
        var opened = new List<InferenceSession>();
        try
        {
            InferenceSession Load(string file, string what)
            {
                var s = SessionFactory.Open(ManifestReader.ResolveInside(modelDir, file, what), options, what, provider, settings.DeviceId);
                opened.Add(s);
                NativeHeap.Trim();
                return s;
            }
            var threads = ThreadPlan.For(settings, provider,
                GraphBytes(ManifestReader.ResolveInside(modelDir, m.Graphs.Transformer, "transformer")),
                GraphBytes(ManifestReader.ResolveInside(modelDir, m.Graphs.TextEmbedding, "text_embedding")));
            options.IntraOpNumThreads = threads.TextEmbedding;
            var text = Load(m.Graphs.TextEmbedding, "text_embedding");
            options.IntraOpNumThreads = threads.ImageEmbedding;
            var image = Load(m.Graphs.ImageEmbedding, "image_embedding");
            options.IntraOpNumThreads = threads.Transformer;
            var transformer = Load(m.Graphs.Transformer, "transformer");
            options.IntraOpNumThreads = threads.VqDecoder;
            var vq = Load(m.Graphs.VqDecoder, "vq_decoder");

            int d = m.Transformer.HiddenSize;
            Check(text, "text_embedding", [new("input_ids", TensorElementType.Int64, [null, null])],
                [new("inputs_embeds", TensorElementType.Float, [null, null, d])]);
            Check(image, "image_embedding", [new("image_codes", TensorElementType.Int64, [null, null])],
                [new("inputs_embeds", TensorElementType.Float, [null, null, d])]);
            Check(vq, "vq_decoder", [new("codes", TensorElementType.Int64, [null, m.Image.GridHeight, m.Image.GridWidth])],
                [new("image", TensorElementType.Float, [null, 3, m.Image.Height, m.Image.Width])]);

            // Shapes first: a graph of another model or kind is named by its wrong ports, not as an sjd2 mismatch.
            // Contract 2 may keep its KV cache in float16 (an --fp16 family export); contract 1 is float32.
            bool newRows = transformer.OutputMetadata.ContainsKey("new_key_values.0.key");
            var kvType = newRows && transformer.InputMetadata.TryGetValue("past_key_values.0.key", out var past)
                && past.IsTensor && past.ElementDataType == TensorElementType.Float16 ? TensorElementType.Float16 : TensorElementType.Float;
            Check(transformer, "transformer", TransformerInputs(m, noise: false, kv: kvType), TransformerOutputs(m, newRows, kvType), exactInputs: false);
            bool hasNoise = transformer.InputMetadata.ContainsKey("noise_levels");
            if (hasNoise != (m.Sjd2 is not null))
                throw new Sjd2Exception(hasNoise
                    ? "the transformer graph has a noise_levels input but model.json has no sjd2 section; re-export the model."
                    : "model.json has an sjd2 section but the transformer graph has no noise_levels input; re-export the model.");
            bool hasWindowMask = transformer.InputMetadata.ContainsKey("window_mask");
            Check(transformer, "transformer", TransformerInputs(m, hasNoise, hasWindowMask, kvType), TransformerOutputs(m, newRows, kvType));
            // The KV cache's helper graphs are a few tiny kernels: no intra-op pool of their own,
            // whose spinning workers would take cores from the transformer's (measured: AR 6-12 % slower).
            options.IntraOpNumThreads = 1;
            var transfer = settings.EmulateDeviceTransfers && provider == ExecutionProvider.Cpu
                ? HostInputTransfer.EmulatedCopy : KvCacheGraphs.TransferOf(provider);
            var kvGraphs = newRows ? KvCacheGraphs.Open(options, provider, settings.DeviceId, 2 * m.Transformer.NumLayers, kvType, transfer) : null;
            bool sampleOnDevice = newRows && (settings.SampleOnDevice ?? provider == ExecutionProvider.Cuda);
            TopKSampler? topK = null;
            try { topK = sampleOnDevice ? TopKSampler.Open(options) : null; }
            catch
            {
                kvGraphs?.Dispose();
                throw;
            }
            var table = ImageEmbeddingTable.TryBuild(image, m.Image.CodebookSize, d);
            Func<InferenceSession>? reopenImage = null;
            if (table is not null)
            {
                string imagePath = ManifestReader.ResolveInside(modelDir, m.Graphs.ImageEmbedding, "image_embedding");
                var imageSettings = settings with { IntraOpThreads = threads.ImageEmbedding };
                reopenImage = () =>
                {
                    using var reopened = SessionFactory.CreateOptions(provider, imageSettings, logId);
                    return SessionFactory.Open(imagePath, reopened, "image_embedding", provider, settings.DeviceId);
                };
                opened.Remove(image);
                image.Dispose();
                NativeHeap.Trim();
            }
            return new ModelSessions(text, table is null ? image : null, reopenImage, transformer, vq, hasNoise, kvGraphs)
            {
                Threads = threads,
                HostInputs = transfer,
                TopKSampler = topK,
                HasTreeAttention = hasWindowMask,
                ImageTable = table,
            };
        }
        catch
        {
            foreach (var s in opened) s.Dispose();
            throw;
        }
    }

    internal static IEnumerable<Port> TransformerInputs(ModelManifest m, bool noise, bool windowMask = false, TensorElementType kv = TensorElementType.Float)
    {
        var t = m.Transformer;
        yield return new("inputs_embeds", TensorElementType.Float, [null, null, t.HiddenSize]);
        yield return new("attention_mask", TensorElementType.Int64, [null, null]);
        yield return new("position_ids", TensorElementType.Int64, [null, null]);
        for (int i = 0; i < t.NumLayers; i++)
        {
            yield return new($"past_key_values.{i}.key", kv, [null, t.NumKvHeads, null, t.HeadDim]);
            yield return new($"past_key_values.{i}.value", kv, [null, t.NumKvHeads, null, t.HeadDim]);
        }
        if (noise) yield return new("noise_levels", TensorElementType.Float, [null, null]);
        // Optional (tree attention); graphs without it run causal windows.
        if (windowMask) yield return new("window_mask", TensorElementType.Int64, [null, null]);
    }

    /// <summary>Contract 2 (<paramref name="newRows"/>): <c>new_key_values.*</c> [B,H,S,Dh]; contract 1: <c>present.*</c> [B,H,P+S,Dh].</summary>
    internal static IEnumerable<Port> TransformerOutputs(ModelManifest m, bool newRows = false, TensorElementType kv = TensorElementType.Float)
    {
        string name = newRows ? "new_key_values" : "present";
        var t = m.Transformer;
        yield return new("logits", TensorElementType.Float, [null, null, m.Image.CodebookSize]);
        for (int i = 0; i < t.NumLayers; i++)
        {
            yield return new($"{name}.{i}.key", kv, [null, t.NumKvHeads, null, t.HeadDim]);
            yield return new($"{name}.{i}.value", kv, [null, t.NumKvHeads, null, t.HeadDim]);
        }
    }

    /// <summary>A graph's bytes with its external data file, if any: about what a run reads of weights.</summary>
    internal static long GraphBytes(string graph)
    {
        long bytes = 0;
        foreach (string file in new[] { graph, graph + ".data" })
            if (File.Exists(file)) bytes += new FileInfo(file).Length;
        return bytes;
    }

    public void Dispose()
    {
        TextEmbedding.Dispose();
        _image?.Dispose();
        Transformer.Dispose();
        VqDecoder.Dispose();
        KvGraphs?.Dispose();
        TopKSampler?.Dispose();
        _logRoute?.Dispose();
    }
}
