namespace Sjd2Onnx.Tests;

/// <summary>PAC's decoder outside the exactness tests: chains reproduce SJD++, options are checked.</summary>
public sealed class PacDecoderTests
{
    private const string Prompt = "a red circle";

    [Theory]
    [InlineData("tiny", 16)]
    [InlineData("tiny-eol", 5)]
    public void ChainDrafts_AreSjdPlusPlusCoupledBitForBit(string model, int window)
    {
        // With width 1 every pass is a chain, and PAC's verification, coupled updates and random
        // stream are SJD++'s: same seed, same codes, same passes.
        using var pipeline = Sjd2Pipeline.Load(SpeculativeTestSupport.ModelDir(model));
        for (ulong seed = 0; seed < 4; seed++)
        {
            var pp = pipeline.GenerateCodes(Prompt, new GenerationOptions { Method = DecodingMethod.SjdPlusPlus, Seed = seed, Window = window, DraftInit = DraftInitialization.Random });
            var pac = pipeline.GenerateCodes(Prompt, new GenerationOptions { Method = DecodingMethod.Pac, Seed = seed, Window = window, DraftInit = DraftInitialization.Random, TreeWidth = 1, TreeDepth = 0 });
            Assert.Equal(pp.Codes, pac.Codes);
            Assert.Equal(pp.Statistics.CommittedPerPass, pac.Statistics.CommittedPerPass);
        }
    }

    [Fact]
    public void TopK1_GivesArsCodes()
    {
        using var pipeline = Sjd2Pipeline.Load(SpeculativeTestSupport.ModelDir("tiny-eol"));
        for (ulong seed = 0; seed < 3; seed++)
        {
            var ar = pipeline.GenerateCodes(Prompt, new GenerationOptions { TopK = 1, Seed = seed });
            var pac = pipeline.GenerateCodes(Prompt, new GenerationOptions { Method = DecodingMethod.Pac, TopK = 1, Seed = seed, Window = 6 });
            Assert.Equal(ar.Codes, pac.Codes);
            Assert.True(pac.Statistics.Passes <= ar.Statistics.Passes);
        }
    }

    [Theory]
    [InlineData(DecodingMethod.Pac, 0, null, "tree width must be at least 1")]
    [InlineData(DecodingMethod.Pac, null, -1, "tree depth must be at least 0")]
    [InlineData(DecodingMethod.Sjd, 3, 2, "a draft tree applies to PAC")]
    public void BadTreeOptions_AreOneLineErrors(DecodingMethod method, int? width, int? depth, string message)
    {
        using var pipeline = Sjd2Pipeline.Load(SpeculativeTestSupport.ModelDir("micro"));
        var e = Assert.Throws<Sjd2Exception>(() => pipeline.GenerateCodes(Prompt, new GenerationOptions { Method = method, TreeWidth = width, TreeDepth = depth }));
        Assert.Contains(message, e.Message);
    }
}
