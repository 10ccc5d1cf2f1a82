using Microsoft.ML.OnnxRuntime;

namespace Sjd2Onnx.Model;

/// <summary>
/// The image-embedding graph: image codes to the transformer's input embeddings, looked up in the
/// model's <see cref="ImageEmbeddingTable"/> where it has one, else run on the graph.
/// </summary>
internal sealed class ImageEmbedder
{
    private readonly InferenceSession? _session;
    private readonly ImageEmbeddingTable? _table;
    private readonly int _hidden;
    private readonly long[] _ids;      // graph input [1, maxCodes]
    private readonly float[] _embeds;  // graph output [1, maxCodes, D]

    /// <summary>An embedder that looks codes up in <paramref name="table"/>.</summary>
    public ImageEmbedder(ImageEmbeddingTable table, int hidden)
    {
        _table = table;
        _hidden = hidden;
        _ids = new long[ChunkOfTable];
        _embeds = [];
    }

    /// <summary>An embedder that runs the graph over at most <paramref name="maxCodes"/> codes at a time.</summary>
    public ImageEmbedder(InferenceSession session, int hidden, int maxCodes, Func<int, float[]> allocate)
    {
        _session = session;
        _hidden = hidden;
        _ids = new long[maxCodes];
        _embeds = allocate(maxCodes * hidden);
    }

    // Codes converted to long ids at a time for a table lookup (a stack of ids, no rows).
    private const int ChunkOfTable = 64;

    /// <summary>Writes the embeddings of <paramref name="codes"/> into <paramref name="destination"/> ([n, D]) without allocating.</summary>
    public void Embed(ReadOnlySpan<int> codes, Span<float> destination, RunOptions runOptions, CancellationToken cancellation)
    {
        for (int start = 0; start < codes.Length; start += _ids.Length)
        {
            int n = Math.Min(_ids.Length, codes.Length - start);
            for (int i = 0; i < n; i++) _ids[i] = codes[start + i];
            var rows = destination.Slice(start * _hidden, n * _hidden);
            if (_table is not null)
            {
                _table.Lookup(_ids.AsSpan(0, n), rows);
                continue;
            }
            Run(n, runOptions, cancellation);
            _embeds.AsSpan(0, n * _hidden).CopyTo(rows);
        }
    }

    private void Run(int n, RunOptions runOptions, CancellationToken cancellation)
    {
        try
        {
            using var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _ids.AsMemory(0, n), [1, n]);
            using var output = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _embeds.AsMemory(0, n * _hidden), [1, n, _hidden]);
            _session!.Run(runOptions, ["image_codes"], [input], ["inputs_embeds"], [output]);
        }
        catch (OnnxRuntimeException) when (cancellation.IsCancellationRequested) { throw new OperationCanceledException(cancellation); }
        catch (OnnxRuntimeException e) { throw GraphContract.RunFailed("image_embedding", e); }
    }
}
