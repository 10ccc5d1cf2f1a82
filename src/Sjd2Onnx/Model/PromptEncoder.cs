using System.Text;
using Microsoft.ML.Tokenizers;

namespace Sjd2Onnx.Model;

/// <summary>Turns a prompt into the text-token ids of the conditional and unconditional rows.</summary>
internal sealed partial class PromptEncoder
{
    private static readonly System.Text.RegularExpressions.Regex WordOrSymbol = new(@"\w+|[^\w\s]", System.Text.RegularExpressions.RegexOptions.Compiled);
    private readonly Tokenizer _tokenizer;
    private readonly ModelManifest _manifest;
    private readonly string _modelDir;
    private readonly int? _unknownId;
    private readonly Dictionary<char, (string Text, int Id)[]> _special;   // by first character, longest first

    public PromptEncoder(string modelDir, ModelManifest manifest)
    {
        _modelDir = modelDir;
        _manifest = manifest;
        _tokenizer = Create(modelDir, manifest.Tokenizer);
        _unknownId = UnknownId(_tokenizer);
        _special = (manifest.Tokenizer.SpecialTokens ?? new Dictionary<string, int>())
            .GroupBy(kv => kv.Key[0])
            .ToDictionary(g => g.Key, g => g.OrderByDescending(kv => kv.Key.Length).ThenBy(kv => kv.Key, StringComparer.Ordinal)
                .Select(kv => (kv.Key, kv.Value)).ToArray());
    }

    /// <summary>
    /// The largest token id the tokenizer can produce (its vocabulary and the manifest's special
    /// tokens): the text-embedding table must have a row for it.
    /// </summary>
    public long MaxTokenId()
    {
        long max = _tokenizer switch
        {
            BpeTokenizer bpe => MaxOf(bpe.Vocabulary.Values),
            SentencePieceTokenizer sp => MaxOf(sp.Vocabulary.Values),
            // tiktoken files are "base64-token rank" lines; the ranks are the ids.
            TiktokenTokenizer => File.ReadLines(VocabPath()).Select(l => l.Split(' ')).Where(p => p.Length == 2)
                .Select(p => long.TryParse(p[1], out long id) ? id : -1).DefaultIfEmpty(-1).Max(),
            // WordPiece ids are line numbers of vocab.txt.
            _ => File.ReadLines(VocabPath()).Count() - 1,
        };
        foreach (var id in _manifest.Tokenizer.SpecialTokens?.Values ?? []) max = Math.Max(max, id);
        return max;
    }

    private string VocabPath() => ManifestReader.ResolveInside(_modelDir, _manifest.Tokenizer.Files["vocab"], "tokenizer.vocab");

    private static long MaxOf(IEnumerable<int> ids) => ids.DefaultIfEmpty(-1).Max();

    /// <summary>The tokenizer, for callers that need raw ids.</summary>
    public Tokenizer Tokenizer => _tokenizer;

    /// <summary>
    /// Prompt token ids (template ids excluded, <c>tokenizer.prompt_format</c> applied); throws for
    /// empty or too long prompts, prompts with control characters, and prompts with a word the
    /// tokenizer does not know (it would become the unknown token and be ignored without a word).
    /// Unknown symbols pass as the unknown token. Byte-level tokenizers (byte_level bpe, tiktoken)
    /// have no unknown token: any text passes.
    /// </summary>
    public IReadOnlyList<int> Tokenize(string prompt)
    {
        if (string.IsNullOrWhiteSpace(prompt))
            throw new Sjd2Exception("the prompt is empty; describe the image, e.g. \"a red circle above a blue square\".");
        foreach (char c in prompt)
            if (char.IsControl(c) && c is not ('\t' or '\n' or '\r'))
                throw new Sjd2Exception($"the prompt contains the control character U+{(int)c:X4}; remove it (prompt files: one plain-text prompt a line).");
        var spec = _manifest.Tokenizer;
        string text = spec.Lowercase ? prompt.ToLowerInvariant() : prompt;
        if (_unknownId is int unknown)
        {
            if (EncodeText(text).All(id => id == unknown))
                throw SettingError.For("prompt", $"the prompt \"{Shorten(prompt)}\" has no word this model knows (every token is unknown); describe the image with words from its vocabulary, e.g. \"a red circle\".");
            // A word the tokenizer does not know would reach the model as its unknown token: the image
            // would ignore it without a word. Name every such word instead.
            var unknownWords = Words().Matches(text).Select(m => m.Value).Distinct(StringComparer.Ordinal)
                .Where(word => EncodeText(word).All(id => id == unknown)).ToList();
            if (unknownWords.Count > 0)
                throw SettingError.For("prompt", $"the prompt has {(unknownWords.Count == 1 ? "a word" : "words")} this model does not know: " +
                    $"{string.Join(", ", unknownWords.Take(10).Select(w => $"'{w}'"))}{(unknownWords.Count > 10 ? ", …" : "")}; " +
                    "use words from the model's vocabulary (its tokenizer files list them) or leave them out.");
        }
        var ids = EncodeText(spec.PromptFormat.Replace("{prompt}", text, StringComparison.Ordinal));
        int max = spec.MaxPromptTokens;
        if (ids.Count > max)
            throw new Sjd2Exception($"the prompt has {ids.Count} tokens, this model takes at most {max}; shorten it.");
        return ids;
    }

    private static string Shorten(string prompt) =>
        (prompt.Length <= 40 ? prompt : prompt[..40] + "…").ReplaceLineEndings(" ");

    // The id the tokenizer gives to text it does not know; null when it has none (byte-level).
    private static int? UnknownId(Tokenizer tokenizer) => tokenizer switch
    {
        WordPieceTokenizer wp => wp.UnknownTokenId,
        BpeTokenizer bpe when bpe.UnknownToken is string unk && bpe.Vocabulary.TryGetValue(unk, out int id) => id,
        SentencePieceTokenizer sp => sp.UnknownId,
        _ => null,
    };

    /// <summary>
    /// Token ids of a text as it stands (no prompt format, no lowercasing): normalisation, then
    /// special tokens matched literally, then the tokenizer on the text between them.
    /// </summary>
    public IReadOnlyList<int> EncodeText(string text)
    {
        var spec = _manifest.Tokenizer;
        text = spec.Normalization switch
        {
            "nfc" => text.Normalize(NormalizationForm.FormC),
            "nfkc" => text.Normalize(NormalizationForm.FormKC),
            _ => text,
        };
        var ids = new List<int>();
        int start = 0;
        while (start < text.Length)
        {
            int at = -1, id = 0, len = 0;
            if (_special.Count > 0)
            {
                for (int i = start; i < text.Length && at < 0; i++)
                {
                    if (!_special.TryGetValue(text[i], out var candidates)) continue;
                    foreach (var (t, tid) in candidates)
                        if (string.CompareOrdinal(text, i, t, 0, t.Length) == 0) { at = i; id = tid; len = t.Length; break; }
                }
            }
            int end = at < 0 ? text.Length : at;
            if (end > start) ids.AddRange(_tokenizer.EncodeToIds(text[start..end]));
            if (at < 0) break;
            ids.Add(id);
            start = at + len;
        }
        return ids;
    }

    /// <summary>Conditional row: prefix, prompt, suffix, begin-of-image.</summary>
    public long[] Conditional(string prompt) => Template(Tokenize(prompt).Select(i => (long)i));

    /// <summary>Unconditional row, built as the manifest's cfg section says.</summary>
    public long[] Unconditional(string prompt) => _manifest.Cfg.Unconditional switch
    {
        "empty_prompt" => Template([]),
        "pad_prompt" => Template(Enumerable.Repeat(_manifest.Cfg.PadId, Tokenize(prompt).Count)),
        "negative_prompt" => Template(EncodeText(_manifest.Cfg.NegativePrompt!).Select(i => (long)i)),
        "begin_of_image" => [.. _manifest.Sequence.BeginOfImageIds],
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
        PreTokenizer? pre = spec.PreTokenizer is null ? null : new SplitSequencePreTokenizer(spec.PreTokenizer);
        try
        {
            return spec.Type switch
            {
                "wordpiece" => WordPieceTokenizer.Create(File("vocab"), new WordPieceOptions
                {
                    // Words, or any single other non-space character: the split the Python side trains
                    // with (\w+|[^\w\s]); the stock word-or-punctuation split drops symbols such as '+'.
                    PreTokenizer = new RegexPreTokenizer(WordOrSymbol, null),
                    UnknownToken = "[UNK]",
                }),
                "bpe" when pre is null && !spec.ByteLevel => BpeTokenizer.Create(File("vocab"), File("merges")),
                "bpe" => CreateBpe(File("vocab"), File("merges"), pre, spec.ByteLevel),
                "sentencepiece" => LoadSentencePiece(File("model")),
                "tiktoken" => TiktokenTokenizer.Create(File("vocab"), pre, normalizer: null),
                _ => throw new InvalidOperationException("validated by the manifest reader"),
            };
        }
        catch (Exception e) when (e is not Sjd2Exception and (ArgumentException or InvalidOperationException or IOException or FormatException
            or System.Text.Json.JsonException or IndexOutOfRangeException))
        {
            throw new Sjd2Exception($"cannot load the {spec.Type} tokenizer files of the model: {e.Message}; re-export the model.", e);
        }
    }

    private static Tokenizer CreateBpe(string vocab, string merges, PreTokenizer? pre, bool byteLevel)
    {
        var options = new BpeOptions(vocab, merges) { ByteLevel = byteLevel };
        if (pre is not null) options.PreTokenizer = pre;
        return BpeTokenizer.Create(options);
    }

    // SentencePieceTokenizer reads both BPE (Llama) and Unigram (T5) models.
    private static Tokenizer LoadSentencePiece(string path)
    {
        using var stream = System.IO.File.OpenRead(path);
        return SentencePieceTokenizer.Create(stream, addBeginningOfSentence: false, addEndOfSentence: false);
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"[\p{L}\p{N}]+")]
    private static partial System.Text.RegularExpressions.Regex Words();
}
