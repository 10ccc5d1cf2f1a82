using Microsoft.ML.OnnxRuntime.Tensors;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Sjd2Onnx.Decoding;
using Sjd2Onnx.Model;
using Sjd2Onnx.Sampling;

namespace Sjd2Onnx.Tests;

/// <summary>
/// The tiny random-weight configurations of the real model families (tests/models/families/*,
/// written by <c>export_models.py &lt;family&gt; --tiny</c>): the manifest and graphs load, ONNX matches
/// our PyTorch re-implementation (parity.json), the engine's tokenizer matches the Python reference,
/// the engine builds the same CFG rows as the upstream code paths do and reproduces their
/// teacher-forced CFG logits token by token and in one window (forced end-of-line slots included),
/// and AR generation runs end to end.
/// </summary>
public sealed class FamiliesTests
{
    // janus-pro-fp16: the same tiny Janus-Pro exported with --fp16 --external-data (float16 weights in
    // <graph>.onnx.data files next to the graphs; the transformer computes in float16 with a float16
    // KV cache, the other graphs in float32); lumina-mgpt-fp16 and emu3-fp16 likewise, weights inside
    // the graphs
    public static TheoryData<string> Families =>
        ["janus-pro", "llamagen", "lumina-mgpt", "emu3", "janus-pro-fp16", "lumina-mgpt-fp16", "emu3-fp16"];

    [Theory, MemberData(nameof(Families))]
    public void ManifestAndGraphsLoad(string family)
    {
        var m = FamilyModels.Get(family);
        Assert.Equal(family, m.Manifest.Name);
        Assert.Null(m.Manifest.Sjd2);
        Assert.True(m.Manifest.Image.CodebookSize >= 2);
    }

    [Theory, MemberData(nameof(Families))]
    public void OnnxMatchesPyTorchReimplementation(string family)
    {
        var (results, tolerance) = ParityCheck.Run(FamilyModels.Locate(family));
        Assert.NotEmpty(results);
        foreach (var r in results)
            Assert.True(r.MaxAbsDiff <= tolerance, $"{family} case {r.Case} {r.Graph}.{r.Output}: {r.MaxAbsDiff:E3} > {tolerance:E1}");
        Assert.Contains(results, r => r.Graph == "vq_decoder");
    }

    [Theory, MemberData(nameof(Families))]
    public void TokenizerMatchesPythonReference(string family)
    {
        var m = FamilyModels.Get(family);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(m.Dir, "tokenizer_cases.json")));
        int n = 0;
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            var want = c.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            int[] have = c.TryGetProperty("prompt", out var p)
                ? m.Prompts.Tokenize(p.GetString()!).ToArray()
                : m.Prompts.EncodeText(c.GetProperty("text").GetString()!).ToArray();
            Assert.Equal(want, have);
            n++;
        }
        Assert.True(n >= 2);
    }

    [Theory, MemberData(nameof(Families))]
    public void CfgRowsMatchTheUpstreamLayout(string family)
    {
        var m = FamilyModels.Get(family);
        var r = m.Reference;
        Assert.Equal(r.CondIds, m.Prompts.Conditional(r.Prompt));
        Assert.Equal(r.UncondIds, m.Prompts.Unconditional(r.Prompt));
    }

    [Theory, MemberData(nameof(Families))]
    public void TeacherForcedLogitsMatchUpstreamReference_TokenByToken(string family) => CompareWithReference(family, window: false);

    [Theory, MemberData(nameof(Families))]
    public void TeacherForcedLogitsMatchUpstreamReference_OneWindow(string family) => CompareWithReference(family, window: true);

    private static void CompareWithReference(string family, bool window) =>
        CompareWithReference(family, FamilyModels.Get(family).Reference, window);

    /// <summary>The engine's CFG-mixed logits of every code slot of <paramref name="r"/>'s code
    /// sequence (rows built from the manifest, prefill then the slots token by token or in one
    /// window) against the reference's, within its tolerance.</summary>
    internal static void CompareWithReference(string family, FamilyReference r, bool window)
    {
        var m = FamilyModels.Get(family);
        var sampling = new SamplingSettings(r.CfgScale, 1f, 0, 1f);
        long[] cond = m.Prompts.Conditional(r.Prompt), uncond = m.Prompts.Unconditional(r.Prompt);
        var layout = new ImageLayout(m.Manifest.Image, m.Manifest.Sequence.EndOfLineId);
        using var runOptions = new RunOptions();
        using var ctx = new DecodingContext(m.Sessions, m.Manifest, cond, uncond, sampling, 0, window ? layout.SlotCount : 1,
            runOptions, CancellationToken.None, null);
        ctx.Prefill();
        int k = m.Codebook;
        var expected = r.MixedLogits;                                   // [codes, K]
        int codeIndex = 0;
        void Check(int position, string where)
        {
            var c = ctx.Transformer.Logits(0, position);
            var u = ctx.Transformer.Logits(1, position);
            double worst = 0;
            for (int i = 0; i < k; i++)
            {
                double mixed = u[i] + r.CfgScale * (c[i] - u[i]);
                worst = Math.Max(worst, Math.Abs(mixed - expected[codeIndex * k + i]));
            }
            Assert.True(worst <= r.Tolerance, $"{family} code {codeIndex} ({where}): max |diff| {worst:E3} > {r.Tolerance:E1}");
            codeIndex++;
        }

        Check(ctx.PrefixLength - 1, "prefill");
        int last = layout.LastCodeSlot;
        var slotCodes = new int[last];
        for (int s = 0; s < last; s++)
            slotCodes[s] = layout.IsForced(s) ? 0 : r.Codes[layout.CodeIndex(s)];
        if (window)
        {
            ctx.EmbedSlots(0, slotCodes, last);
            ctx.RunWindow(last);
            for (int s = 0; s < last; s++)
                if (!layout.IsForced(s + 1)) Check(s, $"window position {s}");
            ctx.Transformer.Commit(last);
        }
        else
        {
            for (int s = 0; s < last; s++)
            {
                ctx.EmbedSlots(s, slotCodes.AsSpan(s, 1), 1);
                ctx.RunWindow(1);
                ctx.Transformer.Commit(1);
                if (!layout.IsForced(s + 1)) Check(0, $"slot {s + 1}");
            }
        }
        Assert.Equal(layout.CodeCount, codeIndex);
    }

    [Theory, MemberData(nameof(Families))]
    public async Task GeneratesAnImageWithAr(string family)
    {
        var m = FamilyModels.Get(family);
        using var pipeline = Sjd2Pipeline.Load(m.Dir);
        var options = new GenerationOptions { Seed = 3, Decoding = new ArOptions() };
        var a = await pipeline.GenerateAsync("a red circle", options);
        var b = await pipeline.GenerateAsync("a red circle", options);
        Assert.Equal(m.Manifest.Image.CodeCount, a.Codes.Length);
        Assert.All(a.Codes, c => Assert.InRange(c, 0, m.Codebook - 1));
        Assert.Equal(a.Codes, b.Codes);
        Assert.Equal(m.Manifest.Image.Width, a.Image.Width);
        Assert.Equal(m.Manifest.Image.Height, a.Image.Height);
        var layout = new ImageLayout(m.Manifest.Image, m.Manifest.Sequence.EndOfLineId);
        Assert.Equal(1 + layout.LastCodeSlot, a.Statistics.Passes);      // prefill + one pass per fed slot
    }

    [Fact]
    public void Fp16ExportKeepsWeightsInExternalFloat16Data()
    {
        string dir = FamilyModels.Locate("janus-pro-fp16");
        foreach (var graph in new[] { "text_embedding", "image_embedding", "transformer", "vq_decoder" })
        {
            var onnx = new FileInfo(Path.Combine(dir, graph + ".onnx"));
            var data = new FileInfo(Path.Combine(dir, graph + ".onnx.data"));
            Assert.True(data.Exists, $"{graph}.onnx.data missing");
            Assert.True(data.Length > onnx.Length / 2, $"{graph}: the weights should live in the data file");
        }
        long fp32 = new FileInfo(Path.Combine(FamilyModels.Locate("janus-pro"), "transformer.onnx")).Length;
        long fp16 = new FileInfo(Path.Combine(dir, "transformer.onnx")).Length + new FileInfo(Path.Combine(dir, "transformer.onnx.data")).Length;
        Assert.True(fp16 < 0.7 * fp32, $"float16 transformer {fp16} bytes vs float32 {fp32}");
    }

    [Fact]
    public void Fp16TransformerKeepsItsKvCacheInFloat16AndReturnsFloat32Logits()
    {
        var m = FamilyModels.Get("janus-pro-fp16");
        var t = m.Sessions.Transformer;
        Assert.Equal(TensorElementType.Float, t.InputMetadata["inputs_embeds"].ElementDataType);
        Assert.Equal(TensorElementType.Float, t.OutputMetadata["logits"].ElementDataType);
        for (int i = 0; i < m.Manifest.Transformer.NumLayers; i++)
        {
            Assert.Equal(TensorElementType.Float16, t.InputMetadata[$"past_key_values.{i}.key"].ElementDataType);
            Assert.Equal(TensorElementType.Float16, t.OutputMetadata[$"new_key_values.{i}.value"].ElementDataType);
        }
        Assert.Equal(TensorElementType.Float16, m.Sessions.KvGraphs!.ElementType);
        Assert.Equal(2, m.Sessions.KvGraphs.ElementSize);
    }

    // llamagen-sjd2: the tiny LlamaGen after `export_models.py finetune-sjd2 --steps 30` (LoRA + noise MLP)
    [Fact]
    public async Task FineTunedFamilyModelHasTheSjd2InputAndRuns()
    {
        var m = FamilyModels.Get("llamagen-sjd2");
        Assert.NotNull(m.Manifest.Sjd2);
        Assert.True(m.Sessions.HasNoiseInput);
        Assert.Equal(m.Manifest.Transformer.HiddenSize, m.Manifest.Sjd2!.EmbeddingMean.Length);
        var (results, tolerance) = ParityCheck.Run(m.Dir);
        Assert.All(results, r => Assert.True(r.MaxAbsDiff <= tolerance, $"{r.Graph}.{r.Output}: {r.MaxAbsDiff:E3}"));
        using var pipeline = Sjd2Pipeline.Load(m.Dir);
        var result = await pipeline.GenerateAsync("a red circle", new GenerationOptions { Seed = 1, Decoding = new ArOptions() });
        Assert.Equal(m.Manifest.Image.CodeCount, result.Codes.Length);
    }

    [Fact]
    public void LlamaGenPositionsAreAbsolute()
    {
        var m = FamilyModels.Get("llamagen");
        Assert.Equal(12, m.Manifest.Sequence.FirstImagePosition);
        Assert.Equal("pad_prompt", m.Manifest.Cfg.Unconditional);
    }

    [Fact]
    public void LlamaGenRejectsPromptsLongerThanTheCaptionSlots()
    {
        var m = FamilyModels.Get("llamagen");
        var words = string.Join(' ', Enumerable.Repeat("red", 40));
        var e = Assert.Throws<Sjd2Exception>(() => m.Prompts.Tokenize(words));
        Assert.Contains("at most", e.Message);
    }

    [Fact]
    public void LuminaUnconditionalRowIsTheImageStartOnly()
    {
        var m = FamilyModels.Get("lumina-mgpt");
        Assert.Equal(m.Manifest.Sequence.BeginOfImageIds, m.Prompts.Unconditional("a red circle"));
        Assert.NotNull(m.Manifest.Sequence.EndOfLineId);
    }
}

/// <summary>A family test model opened once per test run (sessions stay open for the process).</summary>
internal sealed class FamilyModels
{
    private static readonly Dictionary<string, Lazy<FamilyModels>> Cache = new();

    private FamilyModels(string family)
    {
        Dir = Locate(family);
        Manifest = ManifestReader.Load(Dir);
        Sessions = ModelSessions.Open(Dir, Manifest, ExecutionProvider.Cpu, 0);
        Prompts = new PromptEncoder(Dir, Manifest);
        string reference = Path.Combine(Dir, "reference.json");
        _reference = new Lazy<FamilyReference>(() => FamilyReference.Load(reference));
    }

    private readonly Lazy<FamilyReference> _reference;

    public static FamilyModels Get(string family)
    {
        Lazy<FamilyModels> lazy;
        lock (Cache)
        {
            if (!Cache.TryGetValue(family, out lazy!))
                Cache[family] = lazy = new Lazy<FamilyModels>(() => new FamilyModels(family));
        }
        return lazy.Value;
    }

    public static string Locate(string family)
    {
        string dir = Path.Combine(Support.TestPaths.RepoRoot, "tests", "models", "families", family);
        return File.Exists(Path.Combine(dir, "model.json"))
            ? dir
            : throw new InvalidOperationException($"family test model '{family}' not found at {dir}");
    }

    public string Dir { get; }
    public ModelManifest Manifest { get; }
    public ModelSessions Sessions { get; }
    public PromptEncoder Prompts { get; }
    public FamilyReference Reference => _reference.Value;
    public int Codebook => Manifest.Image.CodebookSize;
}

/// <summary>reference.json: rows and teacher-forced CFG logits computed the upstream way in Python.</summary>
internal sealed record FamilyReference(string Prompt, float CfgScale, long[] CondIds, long[] UncondIds, int[] Codes,
    float[] MixedLogits, double Tolerance)
{
    /// <summary>Reads reference.json, or hf_reference.json with <paramref name="logits"/> /
    /// <paramref name="tolerance"/> naming another set of logits in it.</summary>
    public static FamilyReference Load(string path, string logits = "mixed_logits", string tolerance = "tolerance")
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        var r = doc.RootElement;
        long[] Longs(string name) => r.GetProperty(name).EnumerateArray().Select(e => e.GetInt64()).ToArray();
        return new FamilyReference(
            r.GetProperty("prompt").GetString()!, (float)r.GetProperty("cfg_scale").GetDouble(), Longs("cond_ids"),
            Longs("uncond_ids"), r.GetProperty("codes").EnumerateArray().Select(e => e.GetInt32()).ToArray(),
            r.GetProperty(logits).GetProperty("data").EnumerateArray().Select(e => (float)e.GetDouble()).ToArray(),
            r.GetProperty(tolerance).GetDouble());
    }
}
