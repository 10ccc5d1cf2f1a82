namespace Sjd2Onnx.Model;

/// <summary>
/// Intra-op threads per graph (0 = ONNX Runtime's default, one per physical core). Chosen from the
/// graphs' sizes unless <see cref="PipelineOptions.IntraOpThreads"/> fixes them: a pass of a small
/// model is a few hundred microseconds of small kernels, where waking a second worker for every
/// kernel costs more than it saves, so everything runs on the calling thread; a large model's
/// matrix products and VQ decoder convolutions split well across cores (docs/engineering-notes.md,
/// "Threads", has the measurements).
/// </summary>
/// <param name="TextEmbedding">The prompt's graph: a table lookup, or a whole text encoder (LlamaGen's T5).</param>
/// <param name="ImageEmbedding">The code table lookup, run every speculative pass.</param>
/// <param name="Transformer">The transformer.</param>
/// <param name="VqDecoder">The VQ decoder.</param>
internal sealed record ThreadPlan(int TextEmbedding, int ImageEmbedding, int Transformer, int VqDecoder)
{
    /// <summary>
    /// Graph bytes (with external data) from which a graph gets every core: between the float32 default
    /// model (10 MB, faster on the calling thread) and GPT-B with 4-bit weights (63 MB, the same
    /// matrix products as its 390 MB float32 form, which the cores speed up).
    /// </summary>
    public const long LargeModelBytes = 32L << 20;

    /// <summary>Up to this many logical processors, a large graph uses all of them (see <see cref="LargeGraphThreads"/>).</summary>
    public const int SmallMachineProcessors = 8;

    /// <summary>The plan for a CPU session set; other providers keep ONNX Runtime's default for their CPU kernels.</summary>
    public static ThreadPlan For(PipelineOptions settings, ExecutionProvider provider, long transformerBytes, long textEmbeddingBytes) =>
        For(settings, provider, transformerBytes, textEmbeddingBytes, Environment.ProcessorCount);

    internal static ThreadPlan For(PipelineOptions settings, ExecutionProvider provider, long transformerBytes, long textEmbeddingBytes, int processors)
    {
        int n = settings.IntraOpThreads;
        if (n > 0) return new(n, n, n, n);
        if (provider != ExecutionProvider.Cpu) return new(0, 0, 0, 0);
        int large = LargeGraphThreads(processors);
        // The image embedding is a single gather: never worth a pool, whose spinning worker would
        // take a core from the transformer right after it. A text encoder as large as a model is.
        int text = textEmbeddingBytes >= LargeModelBytes ? large : 1;
        return transformerBytes >= LargeModelBytes ? new(text, 1, large, large) : new(text, 1, 1, 1);
    }

    // ONNX Runtime's default is one thread per physical core. A small virtual machine whose two vCPUs are one
    // core's two hardware threads then gets one thread, and a GPT-B-sized pass was measured
    // 1.6-1.75x faster on two there: small machines use every logical processor this process may
    // run on. Larger ones keep ONNX Runtime's count, which leaves SMT siblings out (0).
    private static int LargeGraphThreads(int processors) => processors <= SmallMachineProcessors ? processors : 0;

    /// <summary>The plan in words, for <c>sjd2 info</c>.</summary>
    public override string ToString() =>
        $"transformer {Describe(Transformer)}, VQ decoder {Describe(VqDecoder)}, text embedding {Describe(TextEmbedding)}, image embedding {Describe(ImageEmbedding)}";

    private static string Describe(int threads) => threads == 0 ? "one per physical core" : threads == 1 ? "1 (calling thread)" : threads.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
