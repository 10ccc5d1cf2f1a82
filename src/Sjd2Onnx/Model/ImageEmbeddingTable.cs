using Microsoft.ML.OnnxRuntime;

namespace Sjd2Onnx.Model;

/// <summary>
/// The image-embedding graph's output for every code, read once when the model opens, so that the
/// speculative decoders look up a window's embeddings with a copy instead of an ONNX Runtime call
/// every pass (15–27 µs a call on the default model, against about 20 ns a row copied). Built only
/// when the graph is a pure function of each code: it runs over all codes in order and in reverse,
/// and any row that differs by a bit (an embedding that mixes positions or neighbours) keeps the
/// graph in use; and only up to <see cref="MaxBytes"/>, so a large codebook × hidden size (Janus-Pro's
/// 16 384 × 2 048 after its aligner) does not cost that much memory.
/// </summary>
internal sealed class ImageEmbeddingTable
{
    /// <summary>Largest table kept (64 MB: LlamaGen GPT-B's 16 384 codes × 768 fit).</summary>
    public const long MaxBytes = 64L << 20;

    /// <summary>Codes per run of the reverse-order check (a few hundred kB of rows at GPT-B's width).</summary>
    private const int CheckChunk = 256;

    private readonly float[] _rows;

    private ImageEmbeddingTable(float[] rows, int hidden)
    {
        _rows = rows;
        Hidden = hidden;
    }

    /// <summary>Width of a row (the transformer's hidden size).</summary>
    public int Hidden { get; }

    /// <summary>The table of <paramref name="session"/>, or null when it is too large or not a per-code function.</summary>
    public static ImageEmbeddingTable? TryBuild(InferenceSession session, int codebook, int hidden)
    {
        if ((long)codebook * hidden * sizeof(float) > MaxBytes) return null;
        var forward = new long[codebook];
        for (int c = 0; c < codebook; c++) forward[c] = c;
        try
        {
            float[] rows = Run(session, forward, hidden);
            // The reverse run goes in chunks, so the check holds one chunk, not a second table.
            int chunk = Math.Min(codebook, CheckChunk);
            var reversedCodes = new long[chunk];
            var reversed = new float[chunk * hidden];
            for (int start = 0; start < codebook; start += chunk)
            {
                int n = Math.Min(chunk, codebook - start);
                for (int i = 0; i < n; i++) reversedCodes[i] = codebook - 1 - (start + i);
                Run(session, reversedCodes.AsMemory(0, n), reversed.AsMemory(0, n * hidden), hidden);
                for (int i = 0; i < n; i++)
                {
                    int c = (int)reversedCodes[i];
                    if (!rows.AsSpan(c * hidden, hidden).SequenceEqual(reversed.AsSpan(i * hidden, hidden))) return null;
                }
            }
            return new ImageEmbeddingTable(rows, hidden);
        }
        catch (OnnxRuntimeException)
        {
            return null; // e.g. a codebook larger than the graph's table: the token-id check names that
        }
    }

    /// <summary>Writes the embeddings of <paramref name="codes"/> ([n, Hidden]) into <paramref name="destination"/>.</summary>
    public void Lookup(ReadOnlySpan<long> codes, Span<float> destination)
    {
        for (int i = 0; i < codes.Length; i++)
            _rows.AsSpan((int)codes[i] * Hidden, Hidden).CopyTo(destination.Slice(i * Hidden, Hidden));
    }

    private static float[] Run(InferenceSession session, long[] codes, int hidden)
    {
        var result = new float[codes.Length * hidden];
        Run(session, codes, result, hidden);
        return result;
    }

    private static void Run(InferenceSession session, Memory<long> codes, Memory<float> result, int hidden)
    {
        using var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, codes, [1, codes.Length]);
        using var output = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, result, [1, codes.Length, hidden]);
        using var runOptions = new RunOptions();
        session.Run(runOptions, ["image_codes"], [input], ["inputs_embeds"], [output]);
    }
}
