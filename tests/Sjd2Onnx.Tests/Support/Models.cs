using Microsoft.ML.OnnxRuntime;
using Sjd2Onnx.Decoding;
using Sjd2Onnx.Model;
using Sjd2Onnx.Sampling;

namespace Sjd2Onnx.Tests.Support;

/// <summary>A committed test model opened once per test run (sessions are never disposed: a Run on a
/// disposed session crashes the process, and the process ends with the run anyway).</summary>
internal sealed class LoadedModel
{
    private static readonly Dictionary<string, Lazy<LoadedModel>> Cache = new();

    private LoadedModel(string name)
    {
        Dir = TestPaths.Model(name);
        Manifest = ManifestReader.Load(Dir);
        Sessions = ModelSessions.Open(Dir, Manifest, ExecutionProvider.Cpu, 0);
        Prompts = new PromptEncoder(Dir, Manifest);
    }

    public static LoadedModel Get(string name)
    {
        Lazy<LoadedModel> lazy;
        lock (Cache)
        {
            if (!Cache.TryGetValue(name, out lazy!))
                Cache[name] = lazy = new Lazy<LoadedModel>(() => new LoadedModel(name));
        }
        return lazy.Value;
    }

    public string Dir { get; }
    public ModelManifest Manifest { get; }
    public ModelSessions Sessions { get; }
    public PromptEncoder Prompts { get; }
    public int Hidden => Manifest.Transformer.HiddenSize;
    public int Codebook => Manifest.Image.CodebookSize;

    /// <summary>Text embeddings of ids, [n, D].</summary>
    public float[] EmbedText(long[] ids) => Embed(Sessions.TextEmbedding, "input_ids", ids);

    /// <summary>Image embeddings of codes, [n, D].</summary>
    public float[] EmbedCodes(long[] codes) => Embed(Sessions.ImageEmbedding, "image_codes", codes);

    private static float[] Embed(InferenceSession session, string input, long[] ids)
    {
        using var value = OrtValue.CreateTensorValueFromMemory(ids, [1, ids.Length]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, [input], [value], ["inputs_embeds"]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }
}

/// <summary>
/// A CFG-style two-row sequence for driving <see cref="Transformer"/> directly: row 0 the
/// conditional prompt, row 1 the (shorter) unconditional one, left-padded to a common prefix length,
/// followed by the same image slots in both rows (random codes, forced end-of-line slots where the
/// model has them) with optional per-slot noise levels.
/// </summary>
internal sealed class CfgSequence
{
    /// <param name="equalRowsAllowed">Models whose unconditional row is as long as the conditional one
    /// (LlamaGen's pad_prompt): no padding to test, but their positions and attention still are.</param>
    public CfgSequence(LoadedModel model, string prompt, ulong seed, bool noise, int? imageSlots = null, long padFillId = 0,
        bool equalRowsAllowed = false)
    {
        Model = model;
        HasNoise = noise;
        int d = model.Hidden;
        long[] cond = model.Prompts.Conditional(prompt), uncond = model.Prompts.Unconditional(prompt);
        PrefixLength = Math.Max(cond.Length, uncond.Length);
        Padding = [PrefixLength - cond.Length, PrefixLength - uncond.Length];
        if (Padding[0] == Padding[1] && !equalRowsAllowed) throw new InvalidOperationException("the test wants rows of unequal length");

        var layout = new ImageLayout(model.Manifest.Image, model.Manifest.Sequence.EndOfLineId);
        ImageLength = imageSlots ?? layout.SlotCount;
        var rng = new SeededRandom(seed);
        var codes = new long[ImageLength];
        for (int i = 0; i < ImageLength; i++) codes[i] = rng.NextInt(model.Codebook);
        var codeEmbeds = model.EmbedCodes(codes);
        float[] eol = layout.EndOfLineId is long e ? model.EmbedText([e]) : [];
        ImageEmbeds = new float[ImageLength * d];
        for (int i = 0; i < ImageLength; i++)
        {
            var src = layout.IsForced(i) ? eol.AsSpan() : codeEmbeds.AsSpan(i * d, d);
            src.CopyTo(ImageEmbeds.AsSpan(i * d, d));
        }
        ImageNoise = new float[ImageLength];
        if (noise)
        {
            var grid = model.Manifest.Sjd2!.SigmaGrid();
            for (int i = 0; i < ImageLength; i++)
            {
                if (layout.IsForced(i) || i < 2) continue; // a few clean slots, then noisy drafts
                float sigma = grid[rng.NextInt(grid.Length)];
                ImageNoise[i] = sigma;
                float keep = MathF.Sqrt(1 - sigma * sigma);
                for (int c = 0; c < d; c++)
                    ImageEmbeds[i * d + c] = keep * ImageEmbeds[i * d + c] + sigma * (float)rng.NextGaussian();
            }
        }

        // Prefix rows [2, P, D]; padding slots hold the embedding of padFillId (masked out, must not matter).
        PrefixEmbeds = new float[2 * PrefixLength * d];
        var fill = model.EmbedText([padFillId]);
        long[][] rows = [cond, uncond];
        for (int b = 0; b < 2; b++)
        {
            var emb = model.EmbedText(rows[b]);
            for (int t = 0; t < Padding[b]; t++) fill.CopyTo(PrefixEmbeds.AsSpan((b * PrefixLength + t) * d, d));
            emb.CopyTo(PrefixEmbeds.AsSpan((b * PrefixLength + Padding[b]) * d, emb.Length));
        }
    }

    public LoadedModel Model { get; }
    public bool HasNoise { get; }
    public int PrefixLength { get; }
    public int[] Padding { get; }
    public int ImageLength { get; }
    public int Total => PrefixLength + ImageLength;
    public float[] PrefixEmbeds { get; }   // [2, P, D]
    public float[] ImageEmbeds { get; }    // [N, D], shared by both rows
    public float[] ImageNoise { get; }     // [N]

    public Transformer NewRunner(int? maxWindow = null, int extraCapacity = 0)
    {
        // A small stride step: the contract-2 cache moves its rows several times per sequence.
        var runner = new Transformer(Model.Sessions, Model.Manifest, 2, Total + extraCapacity, maxWindow ?? Total, strideStep: 3);
        runner.SetPadding(Padding);
        if (Model.Manifest.Sequence.FirstImagePosition is int first)
        {
            // As the engine does: every row's first image slot sits at position `first`.
            runner.SetPositionShift([first - (PrefixLength - Padding[0]), first - (PrefixLength - Padding[1])]);
        }
        return runner;
    }

    /// <summary>Window over global positions [start, start+s) as [2, s, D] embeddings and [2, s] noise.</summary>
    public (float[] Embeds, float[] Noise) Window(int start, int s)
    {
        int d = Model.Hidden;
        var embeds = new float[2 * s * d];
        var noise = new float[2 * s];
        for (int b = 0; b < 2; b++)
            for (int j = 0; j < s; j++)
            {
                int t = start + j;
                var src = t < PrefixLength
                    ? PrefixEmbeds.AsSpan((b * PrefixLength + t) * d, d)
                    : ImageEmbeds.AsSpan((t - PrefixLength) * d, d);
                src.CopyTo(embeds.AsSpan((b * s + j) * d, d));
                noise[b * s + j] = t < PrefixLength ? 0 : ImageNoise[t - PrefixLength];
            }
        return (embeds, noise);
    }

    /// <summary>
    /// A speculative window: positions [start, start+keep) carry this sequence's tokens, the rest
    /// carry <paramref name="drafts"/>' tokens (wrong guesses); runs it and commits only <paramref name="keep"/>.
    /// </summary>
    public void FeedDraft(Transformer runner, int start, int s, int keep, CfgSequence drafts)
    {
        var (embeds, noise) = Window(start, s);
        var (other, otherNoise) = drafts.Window(start, s);
        int d = Model.Hidden;
        for (int b = 0; b < 2; b++)
            for (int j = keep; j < s; j++)
            {
                other.AsSpan((b * s + j) * d, d).CopyTo(embeds.AsSpan((b * s + j) * d, d));
                noise[b * s + j] = otherNoise[b * s + j];
            }
        using var ro = new RunOptions();
        runner.Run(embeds, s, HasNoise ? noise : default, ro);
        runner.Commit(keep);
    }

    /// <summary>Runs positions [start, start+s) and copies their logits into <paramref name="logits"/> ([2, Total, K]).</summary>
    public void Feed(Transformer runner, int start, int s, float[]? logits, int? commit = null)
    {
        var (embeds, noise) = Window(start, s);
        using var ro = new RunOptions();
        runner.Run(embeds, s, HasNoise ? noise : default, ro);
        if (logits is not null)
        {
            int k = Model.Codebook;
            for (int b = 0; b < 2; b++)
                for (int j = 0; j < s; j++)
                    runner.Logits(b, j).CopyTo(logits.AsSpan((b * Total + start + j) * k, k));
        }
        runner.Commit(commit ?? s);
    }

    public float[] NewLogits() => new float[2 * Total * Model.Codebook];
}
