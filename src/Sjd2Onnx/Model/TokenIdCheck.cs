using Microsoft.ML.OnnxRuntime;

namespace Sjd2Onnx.Model;

/// <summary>
/// Checks at load that every token id the engine may feed has a row in its embedding table: the
/// largest tokenizer id and the manifest's forced ids in the text-embedding graph, the largest code
/// in the image-embedding graph. The tables' sizes are not in the graphs' metadata, so each check
/// runs the graph once on the largest id of a group (a lookup past the table fails in ONNX Runtime).
/// </summary>
internal static class TokenIdCheck
{
    public static void Check(ModelSessions sessions, ModelManifest m, PromptEncoder prompts)
    {
        var s = m.Sequence;
        var groups = new List<(string What, IEnumerable<long> Ids)>
        {
            ("the tokenizer's vocabulary (tokenizer files and special_tokens)", [prompts.MaxTokenId()]),
            ("sequence.prompt_prefix_ids", s.PromptPrefixIds),
            ("sequence.prompt_suffix_ids", s.PromptSuffixIds),
            ("sequence.begin_of_image_ids", s.BeginOfImageIds),
            ("sequence.end_of_line_id", s.EndOfLineId is long eol ? [eol] : []),
        };
        if (m.Cfg.Unconditional == "pad_prompt") groups.Add(("cfg.pad_id", [m.Cfg.PadId]));
        foreach (var (what, ids) in groups)
        {
            if (!ids.Any()) continue;
            long max = ids.Max();
            if (!Fits(sessions.TextEmbedding, "input_ids", max))
                throw new Sjd2Exception($"model.json: {what} has token id {max}, which the text-embedding graph has no row for; re-export the model or fix the ids.");
        }
        // A table was read from the graph for every code of the codebook: it fits by construction.
        if (sessions.ImageTable is null && !Fits(sessions.ImageEmbedding, "image_codes", m.Image.CodebookSize - 1))
            throw new Sjd2Exception($"model.json: image.codebook_size is {m.Image.CodebookSize}, but the image-embedding graph has fewer rows; re-export the model or fix the file.");
    }

    private static bool Fits(InferenceSession session, string input, long id)
    {
        if (id > int.MaxValue) return false;
        using var value = OrtValue.CreateTensorValueFromMemory(new[] { id }, [1, 1]);
        // The failing lookup is expected: keep ONNX Runtime from logging it.
        using var runOptions = new RunOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL };
        try
        {
            using var outputs = session.Run(runOptions, [input], [value], ["inputs_embeds"]);
            return true;
        }
        catch (OnnxRuntimeException)
        {
            return false;
        }
    }
}
