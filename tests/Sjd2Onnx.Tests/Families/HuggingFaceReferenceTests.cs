using System.Text.Json;
using Microsoft.ML.OnnxRuntime;

namespace Sjd2Onnx.Tests;

/// <summary>
/// The tiny family exports against numbers from the upstream implementations
/// (tests/models/families/&lt;family&gt;/hf_reference.json, written by tools/hf_reference.py in an
/// environment with Hugging Face <c>transformers</c>; see docs/models.md): the same weights loaded
/// into transformers' <c>JanusForConditionalGeneration</c> / <c>ChameleonForConditionalGeneration</c> /
/// <c>Emu3ForCausalLM</c> and their VQ decoders (Chameleon's own VQGAN for Lumina-mGPT). The engine
/// builds the same CFG rows, reproduces the CFG-mixed logits of a fixed code sequence and decodes the
/// same code grid to the same pixels. The float16 folders compute in float16 and are compared with
/// transformers run in float16, bfloat16 and float32, each within the bound its file states.
/// </summary>
public sealed class HuggingFaceReferenceTests
{
    public static TheoryData<string> Families =>
        ["janus-pro", "lumina-mgpt", "emu3", "janus-pro-fp16", "lumina-mgpt-fp16", "emu3-fp16"];

    public static TheoryData<string, string, string> Fp16AgainstOtherDtypes => new()
    {
        { "janus-pro-fp16", "bfloat16_mixed_logits", "bfloat16_tolerance" },
        { "janus-pro-fp16", "float32_mixed_logits", "float32_tolerance" },
        { "lumina-mgpt-fp16", "bfloat16_mixed_logits", "bfloat16_tolerance" },
        { "lumina-mgpt-fp16", "float32_mixed_logits", "float32_tolerance" },
        { "emu3-fp16", "bfloat16_mixed_logits", "bfloat16_tolerance" },
        { "emu3-fp16", "float32_mixed_logits", "float32_tolerance" },
    };

    private static string PathOf(string family) => Path.Combine(FamilyModels.Locate(family), "hf_reference.json");

    [Theory, MemberData(nameof(Families))]
    public void CfgRowsAreTheOnesGivenToTransformers(string family)
    {
        var m = FamilyModels.Get(family);
        var r = FamilyReference.Load(PathOf(family));
        Assert.Equal(r.CondIds, m.Prompts.Conditional(r.Prompt));
        Assert.Equal(r.UncondIds, m.Prompts.Unconditional(r.Prompt));
    }

    [Theory, MemberData(nameof(Families))]
    public void LogitsMatchTransformers_OneWindow(string family) =>
        FamiliesTests.CompareWithReference(family, FamilyReference.Load(PathOf(family)), window: true);

    [Theory, MemberData(nameof(Families))]
    public void LogitsMatchTransformers_TokenByToken(string family) =>
        FamiliesTests.CompareWithReference(family, FamilyReference.Load(PathOf(family)), window: false);

    [Theory, MemberData(nameof(Fp16AgainstOtherDtypes))]
    public void Float16LogitsMatchTransformersInOtherDtypes(string family, string logits, string tolerance) =>
        FamiliesTests.CompareWithReference(family, FamilyReference.Load(PathOf(family), logits, tolerance), window: true);

    [Theory, MemberData(nameof(Families))]
    public void VqDecoderMatchesUpstreamPixels(string family)
    {
        var m = FamilyModels.Get(family);
        var (codes, want, tolerance) = LoadVq(family);
        var img = m.Manifest.Image;
        using var input = OrtValue.CreateTensorValueFromMemory(codes.Select(c => (long)c).ToArray(), [1, img.GridHeight, img.GridWidth]);
        using var outputs = m.Sessions.VqDecoder.Run(new RunOptions(), ["codes"], [input], ["image"]);
        var have = outputs[0].GetTensorDataAsSpan<float>().ToArray();
        Assert.Equal(want.Length, have.Length);
        double worst = 0;
        for (int i = 0; i < want.Length; i++)
            worst = Math.Max(worst, Math.Abs(have[i] - want[i]));
        Assert.True(worst <= tolerance, $"{family} VQ pixels: max |diff| {worst:E3} > {tolerance:E1}");
    }

    [Theory, MemberData(nameof(Families))]
    public void EngineDecodesTheUpstreamImage(string family)
    {
        var m = FamilyModels.Get(family);
        var (codes, want, _) = LoadVq(family);
        var img = m.Manifest.Image;
        using var pipeline = Sjd2Pipeline.Load(m.Dir);
        var have = pipeline.DecodeImage(codes);
        var expected = Imaging.RgbImage.FromPlanar(want, img.Width, img.Height, img.PixelMin, img.PixelMax);
        Assert.Equal(expected.Pixels.Length, have.Pixels.Length);
        int worst = 0;
        for (int i = 0; i < have.Pixels.Length; i++)
            worst = Math.Max(worst, Math.Abs(have.Pixels[i] - expected.Pixels[i]));
        Assert.True(worst <= 1, $"{family}: decoded image differs from the upstream decoder's by {worst} levels");
    }

    [Fact]
    public void JanusUnconditionalRowIsTheOneTransformersGenerateBuilds()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(PathOf("janus-pro")));
        var fromGenerate = doc.RootElement.GetProperty("rows").GetProperty("uncond_ids_from_transformers_generate")
            .EnumerateArray().Select(e => e.GetInt64()).ToArray();
        var m = FamilyModels.Get("janus-pro");
        Assert.Equal(fromGenerate, m.Prompts.Unconditional(doc.RootElement.GetProperty("prompt").GetString()!));
    }

    [Fact]
    public void Emu3EndOfLineIsTransformersOne()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(PathOf("emu3")));
        var ids = doc.RootElement.GetProperty("ids");
        Assert.Equal(ids.GetProperty("end_of_line").GetInt64(), FamilyModels.Get("emu3").Manifest.Sequence.EndOfLineId);
    }

    private static (int[] Codes, float[] Pixels, double Tolerance) LoadVq(string family)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(PathOf(family)));
        var vq = doc.RootElement.GetProperty("vq");
        var codes = vq.GetProperty("codes").GetProperty("data").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        var pixels = vq.GetProperty("pixels").GetProperty("data").EnumerateArray().Select(e => (float)e.GetDouble()).ToArray();
        return (codes, pixels, vq.GetProperty("tolerance").GetDouble());
    }
}
