namespace Sjd2Onnx.Model;

/// <summary>The parsed and validated <c>model.json</c> of a model folder (see docs/model-format.md).</summary>
public sealed record ModelManifest
{
    /// <summary>The only manifest format version this engine reads.</summary>
    public const int SupportedFormatVersion = 1;

    /// <summary>Model name.</summary>
    public required string Name { get; init; }
    /// <summary>Free-text description.</summary>
    public string Description { get; init; } = "";
    /// <summary>Transformer dimensions.</summary>
    public required TransformerSpec Transformer { get; init; }
    /// <summary>Image grid, codebook and pixel size.</summary>
    public required ImageSpec Image { get; init; }
    /// <summary>Text tokenizer.</summary>
    public required TokenizerSpec Tokenizer { get; init; }
    /// <summary>Prompt template and forced tokens.</summary>
    public required SequenceSpec Sequence { get; init; }
    /// <summary>How the unconditional CFG branch is built.</summary>
    public required CfgSpec Cfg { get; init; }
    /// <summary>Default sampling settings.</summary>
    public required Sampling.SamplingSettings Sampling { get; init; }
    /// <summary>ONNX graph file names, relative to the model folder.</summary>
    public required GraphFiles Graphs { get; init; }
    /// <summary>SJD2 noise process; null for models not trained for next-clean-token prediction.</summary>
    public Sjd2Spec? Sjd2 { get; init; }
    /// <summary>How the transformer's linear-layer weights are stored (model.json <c>weights</c>; float32 when absent).</summary>
    public WeightSpec Weights { get; init; } = WeightSpec.Float32;
}

/// <summary>
/// Storage of the transformer's linear-layer weights: <c>float32</c>, or <c>int8</c> / <c>int4</c> as ONNX
/// Runtime's block-quantized <c>MatMulNBits</c> (quantization block along the input dimension, accuracy
/// level of its computation). Informational: the graphs carry everything ONNX Runtime needs.
/// </summary>
public sealed record WeightSpec(string Format, int Bits, int BlockSize, int AccuracyLevel)
{
    /// <summary>Unquantized float32 weights.</summary>
    public static WeightSpec Float32 { get; } = new("float32", 32, 0, 0);

    /// <summary>Whether the weights are block-quantized.</summary>
    public bool IsQuantized => Format != "float32";

    /// <summary>One-line description, e.g. <c>int4 (MatMulNBits, block 32, accuracy level 0)</c>.</summary>
    public override string ToString() => IsQuantized ? $"{Format} (MatMulNBits, block {BlockSize}, accuracy level {AccuracyLevel})" : Format;
}

/// <summary>Transformer dimensions.</summary>
public sealed record TransformerSpec(int HiddenSize, int NumLayers, int NumKvHeads, int HeadDim, int MaxSequenceLength);

/// <summary>Image token grid and pixel output.</summary>
public sealed record ImageSpec(int GridHeight, int GridWidth, int CodebookSize, int Height, int Width, float PixelMin, float PixelMax)
{
    /// <summary>Number of image codes (grid height × width).</summary>
    public int CodeCount => GridHeight * GridWidth;
}

/// <summary>Text tokenizer description.</summary>
public sealed record TokenizerSpec(string Type, IReadOnlyDictionary<string, string> Files, bool Lowercase, int MaxPromptTokens)
{
    /// <summary>Text around the user's prompt, with one <c>{prompt}</c> placeholder; tokenized together with it.</summary>
    public string PromptFormat { get; init; } = "{prompt}";
    /// <summary>Unicode normalisation applied before tokenizing: null, "nfc" or "nfkc".</summary>
    public string? Normalization { get; init; }
    /// <summary>bpe only: GPT-2 style byte-level BPE (bytes mapped to printable characters).</summary>
    public bool ByteLevel { get; init; }
    /// <summary>bpe / tiktoken: Hugging Face style sequence of regex splits; null = the library default.</summary>
    public IReadOnlyList<PreTokenizerSplit>? PreTokenizer { get; init; }
    /// <summary>bpe / tiktoken: special tokens matched literally in the text before pre-tokenization.</summary>
    public IReadOnlyDictionary<string, int>? SpecialTokens { get; init; }
}

/// <summary>One regex split of a pre-tokenizer sequence (Hugging Face <c>Split</c> semantics).</summary>
/// <param name="Pattern">.NET regular expression.</param>
/// <param name="Behavior">isolated, removed, merged_with_previous, merged_with_next or contiguous.</param>
/// <param name="Invert">Whether the pattern marks the pieces to keep instead of the delimiters.</param>
public sealed record PreTokenizerSplit(string Pattern, string Behavior, bool Invert);

/// <summary>Prompt template and forced tokens (text-vocabulary ids).</summary>
public sealed record SequenceSpec(
    IReadOnlyList<long> PromptPrefixIds,
    IReadOnlyList<long> PromptSuffixIds,
    IReadOnlyList<long> BeginOfImageIds,
    long? EndOfLineId,
    IReadOnlyList<long> EndOfImageIds)
{
    /// <summary>
    /// When set, position ids are aligned so that the first image slot of every row has this
    /// position (prefix tokens take the positions just below it); null counts each row's real tokens from 0.
    /// </summary>
    public int? FirstImagePosition { get; init; }
}

/// <summary>How the unconditional (CFG) row's prompt is built.</summary>
public sealed record CfgSpec(string Unconditional, long PadId, string? NegativePrompt);

/// <summary>Graph files of a model folder.</summary>
public sealed record GraphFiles(string TextEmbedding, string ImageEmbedding, string Transformer, string VqDecoder);

/// <summary>SJD2 noise process: VP noise on normalised embeddings with a Karras σ grid.</summary>
public sealed record Sjd2Spec(string Schedule, int Steps, float SigmaMin, float SigmaMax, float Rho, float[] EmbeddingMean, float[] EmbeddingStd)
{
    /// <summary>The σ grid, from σ_max (index 0) down to σ_min (index Steps−1).</summary>
    public float[] SigmaGrid()
    {
        var grid = new float[Steps];
        double hi = Math.Pow(SigmaMax, 1.0 / Rho), lo = Math.Pow(SigmaMin, 1.0 / Rho);
        for (int i = 0; i < Steps; i++)
        {
            double t = Steps == 1 ? 0 : (double)i / (Steps - 1);
            grid[i] = (float)Math.Pow(hi + t * (lo - hi), Rho);
        }
        return grid;
    }
}
