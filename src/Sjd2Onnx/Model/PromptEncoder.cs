using Microsoft.ML.Tokenizers;

namespace Sjd2Onnx.Model;

/// <summary>Turns a prompt into the text-token ids of the conditional and unconditional rows.</summary>
internal sealed class PromptEncoder
{
    private readonly Tokenizer _tokenizer;
    private readonly ModelManifest _manifest;

    public PromptEncoder(string modelDir, ModelManifest manifest)
    {
        _manifest = manifest;
        _tokenizer = Create(modelDir, manifest.Tokenizer);
    }

    /// <summary>The tokenizer, for callers that need raw ids.</summary>
    public Tokenizer Tokenizer => _tokenizer;

    /// <summary>Prompt token ids (template excluded); throws for empty or too long prompts.</summary>
    public IReadOnlyList<int> Tokenize(string prompt)
    {
        if (string.IsNullOrWhiteSpace(prompt))
            throw new Sjd2Exception("the prompt is empty; describe the image, e.g. \"a red circle above a blue square\".");
        string text = _manifest.Tokenizer.Lowercase ? prompt.ToLowerInvariant() : prompt;
        var ids = _tokenizer.EncodeToIds(text);
        int max = _manifest.Tokenizer.MaxPromptTokens;
        if (ids.Count > max)
            throw new Sjd2Exception($"the prompt has {ids.Count} tokens, this model takes at most {max}; shorten it.");
        return ids;
    }

    /// <summary>Conditional row: prefix, prompt, suffix, begin-of-image.</summary>
    public long[] Conditional(string prompt) => Template(Tokenize(prompt).Select(i => (long)i));

    /// <summary>Unconditional row, built as the manifest's cfg section says.</summary>
    public long[] Unconditional(string prompt) => _manifest.Cfg.Unconditional switch
    {
        "empty_prompt" => Template([]),
        "pad_prompt" => Template(Enumerable.Repeat(_manifest.Cfg.PadId, Tokenize(prompt).Count)),
        "negative_prompt" => Template(Tokenize(_manifest.Cfg.NegativePrompt!).Select(i => (long)i)),
        _ => throw new InvalidOperationException("validated by the manifest reader"),
    };

    private long[] Template(IEnumerable<long> promptIds)
    {
        var s = _manifest.Sequence;
        return [.. s.PromptPrefixIds, .. promptIds, .. s.PromptSuffixIds, .. s.BeginOfImageIds];
    }

    private static Tokenizer Create(string modelDir, TokenizerSpec spec)
    {
        string File(string key) => ManifestReader.ResolveInside(modelDir, spec.Files[key], $"tokenizer.{key}");
        try
        {
            return spec.Type switch
            {
                "wordpiece" => WordPieceTokenizer.Create(File("vocab"), new WordPieceOptions
                {
                    PreTokenizer = PreTokenizer.CreateWordOrPunctuation(),
                    UnknownToken = "[UNK]",
                }),
                "bpe" => BpeTokenizer.Create(File("vocab"), File("merges")),
                "sentencepiece" => LoadSentencePiece(File("model")),
                _ => throw new InvalidOperationException("validated by the manifest reader"),
            };
        }
        catch (Exception e) when (e is not Sjd2Exception and (ArgumentException or InvalidOperationException or IOException or FormatException))
        {
            throw new Sjd2Exception($"cannot load the {spec.Type} tokenizer files of the model: {e.Message}; re-export the model.", e);
        }
    }

    private static Tokenizer LoadSentencePiece(string path)
    {
        using var stream = System.IO.File.OpenRead(path);
        return LlamaTokenizer.Create(stream, addBeginOfSentence: false, addEndOfSentence: false);
    }
}
