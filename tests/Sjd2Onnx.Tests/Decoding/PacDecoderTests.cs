using Sjd2Onnx.Tests.Support;
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
            var pp = pipeline.GenerateCodes(Prompt, new GenerationOptions { Seed = seed, Decoding = new SjdPlusPlusOptions { Window = window, DraftInit = DraftInitialization.Random } });
            var pac = pipeline.GenerateCodes(Prompt, new GenerationOptions { Seed = seed, Decoding = new PacOptions { Window = window, DraftInit = DraftInitialization.Random, TreeWidth = 1, TreeDepth = 0 } });
            Assert.Equal(pp.Codes, pac.Codes);
            Assert.Equal(pp.Statistics.CommittedPerPass, pac.Statistics.CommittedPerPass);
        }
    }

    [Theory]
    [InlineData("tiny", 16, 3, 2)]
    [InlineData("tiny", 16, 2, 3)]
    [InlineData("tiny-eol", 12, 2, 2)]
    [InlineData("tiny-eol", 6, 3, 1)]
    public void TopK1_GivesArsCodes(string model, int window, int width, int depth)
    {
        // With top-k 1 every distribution is one-hot, so any wrong logits (a node that saw the wrong
        // context, a kept KV row of the wrong branch) would show as a code different from AR's.
        using var pipeline = Sjd2Pipeline.Load(SpeculativeTestSupport.ModelDir(model));
        Assert.True(pipeline.SupportsTreeAttention);
        for (ulong seed = 0; seed < 3; seed++)
        {
            var ar = pipeline.GenerateCodes(Prompt, new GenerationOptions { Seed = seed, Sampling = new() { TopK = 1 }, Decoding = new ArOptions() });
            foreach (var init in new[] { DraftInitialization.Vertical, DraftInitialization.Random })
            {
                var pac = pipeline.GenerateCodes(Prompt, new GenerationOptions
                { Seed = seed, Sampling = new() { TopK = 1 }, Decoding = new PacOptions { Window = window, TreeWidth = width, TreeDepth = depth, DraftInit = init } });
                Assert.Equal(ar.Codes, pac.Codes);
                Assert.True(pac.Statistics.Passes <= ar.Statistics.Passes);
            }
        }
    }

    [Fact]
    public void Trees_AddTheirCandidatesOnTopOfTheWindowAndCommitAtLeastOneSlotPerPass()
    {
        using var pipeline = Sjd2Pipeline.Load(SpeculativeTestSupport.ModelDir("tiny"));
        var options = new GenerationOptions { Seed = 3, Decoding = new PacOptions { Window = 8, DraftInit = DraftInitialization.Random } };
        var tree = pipeline.GenerateCodes(Prompt, options with { Decoding = ((PacOptions)options.Decoding) with { TreeWidth = 3, TreeDepth = 2 } });
        var chain = pipeline.GenerateCodes(Prompt, options with { Decoding = ((PacOptions)options.Decoding) with { TreeWidth = 1, TreeDepth = 0 } });
        var layout = new Decoding.ImageLayout(pipeline.Manifest.Image, pipeline.Manifest.Sequence.EndOfLineId);
        foreach (var stats in new[] { tree.Statistics, chain.Statistics })
        {
            Assert.Equal(layout.LastCodeSlot + 1, stats.CommittedPerPass.Sum());
            Assert.All(stats.CommittedPerPass, c => Assert.True(c >= 1));
        }
        Assert.All(chain.Statistics.FedPerPass, f => Assert.InRange(f, 1, 8));
        // A 3x2 tree adds the spine's 2 + 6 siblings' candidates at most: 3 + 9 nodes, 2 on the spine.
        Assert.Equal(10, Decoding.PacDecoder.ExtraNodes(3, 2));
        Assert.All(tree.Statistics.FedPerPass, f => Assert.InRange(f, 1, 8 + 10));
        Assert.Contains(tree.Statistics.FedPerPass, f => f > 8);
    }

    [Theory]
    [InlineData(DecodingMethod.Pac, 0, null, "tree width must be at least 1")]
    [InlineData(DecodingMethod.Pac, null, -1, "tree depth must be at least 0")]
    [InlineData(DecodingMethod.Sjd, 3, 2, "tree applies to method pac")]
    public void BadTreeOptions_AreOneLineErrors(DecodingMethod method, int? width, int? depth, string message)
    {
        using var pipeline = Sjd2Pipeline.Load(SpeculativeTestSupport.ModelDir("micro"));
        var e = Assert.Throws<Sjd2Exception>(() => pipeline.GenerateCodes(Prompt, new GenerationOptions { Decoding = TestDecoding.For(method, TreeWidth: width, TreeDepth: depth) }));
        Assert.Contains(message, e.Message);
    }
}
