using Microsoft.ML.OnnxRuntime;

namespace Sjd2Onnx.Model;

/// <summary>
/// The transformer graph and one pass's host buffers as the <see cref="Transformer"/> fills them
/// and an <see cref="IKvCache"/> runs them: embeddings, positions, noise levels, window mask and logits.
/// </summary>
internal sealed class TransformerPass
{
    public TransformerPass(ModelSessions sessions, ModelManifest m, int batch, int maxWindow, float[] logits, DeviceTopK? topK)
    {
        Session = sessions.Transformer;
        Transfer = sessions.HostInputs;
        Batch = batch; Hidden = m.Transformer.HiddenSize; Codebook = m.Image.CodebookSize; Layers = m.Transformer.NumLayers;
        Positions = new long[batch * maxWindow];
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
    /// Sets a pass of <paramref name="s"/> tokens after <paramref name="cached"/> cached ones: its
    /// embeddings, noise (empty: clean), window mask (empty: causal) and each row's position ids.
    /// </summary>
    public void Fill(float[] embeds, int s, ReadOnlySpan<float> noise, ReadOnlySpan<bool> windowMask, int cached,
        ReadOnlySpan<int> offsets, ReadOnlySpan<int> padding, ReadOnlySpan<int> shift)
    {
        Embeds = embeds;
        Window = s;
        for (int b = 0; b < Batch; b++)
            for (int j = 0; j < s; j++) Positions[b * s + j] = Math.Max(0, cached + offsets[j] - padding[b] + shift[b]);
        if (WindowMask is { } mask)
            for (int i = 0; i < s; i++)
                for (int j = 0; j < s; j++) mask[i * s + j] = (windowMask.IsEmpty ? j <= i : windowMask[i * s + j]) ? 1 : 0;
        if (NoiseLevels is { } levels)
        {
            if (noise.IsEmpty) levels.AsSpan(0, Batch * s).Clear();
            else noise[..(Batch * s)].CopyTo(levels);
        }
    }

    /// <summary>Bytes of this pass's own host inputs (embeddings, positions, noise, window mask).</summary>
    public long InputBytes => (long)Batch * Window * Hidden * sizeof(float) + (long)Batch * Window * sizeof(long)
        + (NoiseLevels is not null ? (long)Batch * Window * sizeof(float) : 0) + (WindowMask is not null ? (long)Window * Window * sizeof(long) : 0);
}
