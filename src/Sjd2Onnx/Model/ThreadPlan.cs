namespace Sjd2Onnx.Model;

/// <summary>
/// Intra-op threads per graph (0 = ONNX Runtime's default, one per physical core). Chosen from the
/// transformer's size unless <see cref="PipelineOptions.IntraOpThreads"/> fixes them: a pass of a
/// small model is a few hundred microseconds of small kernels, where waking a second worker for every
/// kernel costs more than it saves, so everything runs on the calling thread; a large model's
/// matrix products and VQ decoder convolutions split well across cores (docs/engineering-notes.md,
/// "Threads", has the measurements).
/// </summary>
internal sealed record ThreadPlan(int Embeddings, int Transformer, int VqDecoder)
{
    /// <summary>Transformer weights (graph file bytes) from which the transformer and the VQ decoder get every core.</summary>
    public const long LargeModelBytes = 64L << 20;

    /// <summary>Up to this many logical processors, a large model uses all of them (see <see cref="LargeModelThreads"/>).</summary>
    public const int SmallMachineProcessors = 8;

    /// <summary>The plan for a CPU session set; other providers keep ONNX Runtime's default for their CPU kernels.</summary>
    public static ThreadPlan For(PipelineOptions settings, ExecutionProvider provider, long transformerBytes) =>
        For(settings, provider, transformerBytes, Environment.ProcessorCount);

    internal static ThreadPlan For(PipelineOptions settings, ExecutionProvider provider, long transformerBytes, int processors)
    {
        if (settings.IntraOpThreads > 0) return new(settings.IntraOpThreads, settings.IntraOpThreads, settings.IntraOpThreads);
        if (provider != ExecutionProvider.Cpu) return new(0, 0, 0);
        // Embedding graphs are single gathers: never worth a pool.
        if (transformerBytes < LargeModelBytes) return new(1, 1, 1);
        int threads = LargeModelThreads(processors);
        return new(1, threads, threads);
    }

    // ONNX Runtime's default is one thread per physical core. A small VM whose two vCPUs are one
    // core's two hardware threads then gets one thread, and a GPT-B-sized pass was measured
    // 1.6-1.75x faster on two there: small machines use every logical processor this process may
    // run on. Larger ones keep ONNX Runtime's count, which leaves SMT siblings out (0).
    private static int LargeModelThreads(int processors) => processors <= SmallMachineProcessors ? processors : 0;

    /// <summary>The plan in words, for <c>sjd2 info</c>: "1" or "auto" (every physical core) per graph.</summary>
    public override string ToString() =>
        $"transformer {Describe(Transformer)}, VQ decoder {Describe(VqDecoder)}, embeddings {Describe(Embeddings)}";

    private static string Describe(int threads) => threads == 0 ? "one per core" : threads == 1 ? "1 (calling thread)" : threads.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
