using Microsoft.ML.OnnxRuntime;

namespace Sjd2Onnx.Model;

/// <summary>
/// The transformer graph and one pass's host buffers as the <see cref="Transformer"/> fills them
/// and an <see cref="IKvCache"/> runs them: embeddings, positions, noise levels, window mask and logits.
/// </summary>
internal sealed class TransformerPass
{
    private readonly int[] _offsets;   // position offset of each token of the window

    public TransformerPass(ModelSessions sessions, ModelManifest m, int batch, int maxWindow, float[] logits, DeviceTopK? topK)
    {
        Session = sessions.Transformer;
        Transfer = sessions.HostInputs;
        Batch = batch; Hidden = m.Transformer.HiddenSize; Codebook = m.Image.CodebookSize; Layers = m.Transformer.NumLayers;
        Positions = new long[batch * maxWindow];
        _offsets = new int[maxWindow];
        NoiseLevels = sessions.HasNoiseInput ? new float[batch * maxWindow] : null;
        WindowMask = sessions.HasTreeAttention ? new long[maxWindow * maxWindow] : null;
        Logits = logits;
        TopK = topK;
        var inputs = new List<string> { "inputs_embeds", "attention_mask", "position_ids" };
        var outputs = new List<string> { "logits" };
        string output = sessions.ReturnsNewRows ? "new_key_values" : "present";
        for (int i = 0; i < Layers; i++)
        {
            inputs.Add($"past_key_values.{i}.key"); inputs.Add($"past_key_values.{i}.value");
            outputs.Add($"{output}.{i}.key"); outputs.Add($"{output}.{i}.value");
        }
        if (NoiseLevels is not null) inputs.Add("noise_levels");
        if (WindowMask is not null) inputs.Add("window_mask");
        InputNames = [.. inputs];
        OutputNames = [.. outputs];
    }

    public InferenceSession Session { get; }

    /// <summary>How bound host inputs reach the provider.</summary>
    public HostInputTransfer Transfer { get; }

    public int Batch { get; }
    public int Hidden { get; }
    public int Codebook { get; }
    public int Layers { get; }

    /// <summary>Inputs in order: embeddings, mask, positions, the 2·layers past tensors, then noise and window mask where the graph has them.</summary>
    public string[] InputNames { get; }

    /// <summary>Outputs in order: logits, then the 2·layers KV tensors.</summary>
    public string[] OutputNames { get; }

    /// <summary>This pass's embeddings [B, S, D].</summary>
    public float[] Embeds { get; private set; } = [];

    /// <summary>This pass's S.</summary>
    public int Window { get; private set; }

    /// <summary>[B, maxWindow]: position ids.</summary>
    public long[] Positions { get; }

    /// <summary>[B, maxWindow] (graphs with a noise input).</summary>
    public float[]? NoiseLevels { get; }

    /// <summary>[S, S] (graphs with tree attention).</summary>
    public long[]? WindowMask { get; }

    /// <summary>[B, maxWindow, K] host logits (empty when the provider samples).</summary>
    public float[] Logits { get; }

    /// <summary>Where the provider keeps each position's top k instead of reading back the logits.</summary>
    public DeviceTopK? TopK { get; }

    /// <summary>
    /// Sets a pass of <paramref name="s"/> tokens after <paramref name="cached"/> cached ones: embeddings,
    /// noise (empty: clean), position offsets (empty: 0..S−1), window mask (empty: causal), position ids.
    /// </summary>
    public void Fill(float[] embeds, int s, ReadOnlySpan<float> noise, ReadOnlySpan<int> positionOffsets, ReadOnlySpan<bool> windowMask,
        int cached, ReadOnlySpan<int> padding, ReadOnlySpan<int> shift)
    {
        Embeds = embeds;
        Window = s;
        for (int j = 0; j < s; j++) _offsets[j] = positionOffsets.IsEmpty ? j : positionOffsets[j];
        for (int b = 0; b < Batch; b++)
            for (int j = 0; j < s; j++) Positions[b * s + j] = Math.Max(0, cached + _offsets[j] - padding[b] + shift[b]);
        if (WindowMask is { } mask)
            for (int i = 0; i < s; i++)
                for (int j = 0; j < s; j++) mask[i * s + j] = (windowMask.IsEmpty ? j <= i : windowMask[i * s + j]) ? 1 : 0;
        if (NoiseLevels is { } levels)
        {
            if (noise.IsEmpty) levels.AsSpan(0, Batch * s).Clear();
            else noise[..(Batch * s)].CopyTo(levels);
        }
    }

    /// <summary>
    /// Checks that window tokens <paramref name="kept"/> of the <paramref name="pending"/> fed can follow the cache in
    /// this order: each fed at offset m, attending exactly the kept tokens before it (<paramref name="hint"/>: what to do instead).
    /// </summary>
    public void CheckKept(ReadOnlySpan<int> kept, int pending, string? hint)
    {
        for (int m = 0; m < kept.Length; m++)
        {
            int j = kept[m];
            if (j < 0 || j >= pending) throw new ArgumentOutOfRangeException(nameof(kept), $"window index {j} outside the window of {pending}");
            if (kept[..m].Contains(j)) throw new ArgumentException($"window index {j} is kept twice", nameof(kept));
            if (_offsets[j] != m)
                throw new InvalidOperationException($"window token {j} was fed at position offset {_offsets[j]}, it cannot be cached at offset {m}{(hint is null ? "" : "; " + hint)}");
            for (int i = 0; i < pending; i++)
                if (i != j && Attended(j, i, pending) != kept[..m].Contains(i))
                    throw new InvalidOperationException(hint is null
                        ? $"window token {j} {(Attended(j, i, pending) ? "attended" : "did not attend")} window token {i}; the kept tokens must be one path, each attending exactly those before it"
                        : $"window token {j} {(i < m ? "did not attend" : "attended")} window token {i}; {hint}");
        }
    }

    // Whether new token i of a window of s attended new token j.
    private bool Attended(int i, int j, int s) => WindowMask is not { } mask ? j <= i : mask[i * s + j] != 0;

    /// <summary>Bytes of this pass's own host inputs (embeddings, positions, noise, window mask).</summary>
    public long InputBytes => (long)Batch * Window * Hidden * sizeof(float) + (long)Batch * Window * sizeof(long)
        + (NoiseLevels is not null ? (long)Batch * Window * sizeof(float) : 0) + (WindowMask is not null ? (long)Window * Window * sizeof(long) : 0);
}
