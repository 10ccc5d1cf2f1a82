using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace Sjd2Onnx.Model;

/// <summary>
/// A sequence of regex splits with Hugging Face <c>tokenizers</c> <c>Split</c> semantics: each split
/// runs on every piece the previous one produced. Per split, the regex matches are the delimiters
/// (or, inverted, the kept parts) and the behavior says what happens to them: <c>isolated</c> (own
/// piece), <c>removed</c>, <c>merged_with_previous</c>, <c>merged_with_next</c>, <c>contiguous</c>
/// (adjacent delimiters become one piece). Byte-level BPE exports (Janus-Pro's DeepSeek tokenizer,
/// Chameleon's) describe their pre-tokenizer this way; a tiktoken regex is one isolated split.
/// </summary>
internal sealed class SplitSequencePreTokenizer : PreTokenizer
{
    private readonly (Regex Regex, string Behavior, bool Invert)[] _splits;

    public SplitSequencePreTokenizer(IEnumerable<PreTokenizerSplit> splits)
    {
        _splits = splits.Select(s => (new Regex(s.Pattern, RegexOptions.CultureInvariant), s.Behavior, s.Invert)).ToArray();
    }

    public override IEnumerable<(int Offset, int Length)> PreTokenize(string text) =>
        string.IsNullOrEmpty(text) ? [] : Split(text);

    public override IEnumerable<(int Offset, int Length)> PreTokenize(ReadOnlySpan<char> text) =>
        text.IsEmpty ? [] : Split(text.ToString());

    private List<(int Offset, int Length)> Split(string text)
    {
        var pieces = new List<(int Offset, int Length)> { (0, text.Length) };
        foreach (var (regex, behavior, invert) in _splits)
        {
            var next = new List<(int Offset, int Length)>(pieces.Count * 2);
            foreach (var piece in pieces) SplitPiece(text, piece, regex, behavior, invert, next);
            pieces = next;
        }
        return pieces;
    }

    private static void SplitPiece(string text, (int Offset, int Length) piece, Regex regex, string behavior, bool invert,
        List<(int Offset, int Length)> output)
    {
        // (start, end, isDelimiter) spans covering the piece
        var spans = new List<(int Start, int End, bool Delim)>();
        int pos = piece.Offset, end = piece.Offset + piece.Length;
        for (var m = regex.Match(text, piece.Offset, piece.Length); m.Success; m = m.NextMatch())
        {
            if (m.Length == 0) continue;
            if (m.Index > pos) spans.Add((pos, m.Index, invert));
            spans.Add((m.Index, m.Index + m.Length, !invert));
            pos = m.Index + m.Length;
        }
        if (pos < end) spans.Add((pos, end, invert));

        switch (behavior)
        {
            case "isolated":
                foreach (var s in spans) output.Add((s.Start, s.End - s.Start));
                break;
            case "removed":
                foreach (var s in spans) if (!s.Delim) output.Add((s.Start, s.End - s.Start));
                break;
            case "merged_with_previous":
                {
                    int? open = null;
                    foreach (var s in spans)
                    {
                        if (s.Delim && open is int o) { output[^1] = (o, s.End - o); open = null; continue; }
                        output.Add((s.Start, s.End - s.Start));
                        open = s.Delim ? null : s.Start;
                    }
                    break;
                }
            case "merged_with_next":
                {
                    int? pending = null;
                    foreach (var s in spans)
                    {
                        if (s.Delim)
                        {
                            if (pending is int prev) output.Add((prev, s.Start - prev));   // delimiter after delimiter
                            pending = s.Start;
                            continue;
                        }
                        int from = pending ?? s.Start;
                        output.Add((from, s.End - from));
                        pending = null;
                    }
                    if (pending is int p) output.Add((p, end - p));
                    break;
                }
            case "contiguous":
                {
                    int i = 0;
                    while (i < spans.Count)
                    {
                        int j = i;
                        if (spans[i].Delim) while (j + 1 < spans.Count && spans[j + 1].Delim) j++;
                        output.Add((spans[i].Start, spans[j].End - spans[i].Start));
                        i = j + 1;
                    }
                    break;
                }
            default:
                throw new InvalidOperationException("validated by the manifest reader");
        }
    }
}
