using Sjd2Onnx.Model;

namespace Sjd2Onnx.Tests;

/// <summary>Which intra-op threads each graph gets: by graph size on the CPU, or as the options fix them.</summary>
public class ThreadPlanTests
{
    private static ThreadPlan Plan(long transformer, long text = 30_000, int processors = 2, PipelineOptions? options = null,
        ExecutionProvider provider = ExecutionProvider.Cpu) =>
        ThreadPlan.For(options ?? new PipelineOptions(), provider, transformer, text, processors);

    [Fact]
    public void SmallModelsRunEveryGraphOnTheCallingThread()
    {
        Assert.Equal(new ThreadPlan(1, 1, 1, 1), Plan(11_200_000)); // the default model
        Assert.Equal(new ThreadPlan(1, 1, 1, 1), Plan(ThreadPlan.LargeModelBytes - 1));
    }

    [Fact]
    public void LargeModelsGiveTheTransformerAndTheVqDecoderEveryCore()
    {
        // GPT-B in float32 on a 2-vCPU machine: both, whether they are two cores or one core's two hardware threads.
        Assert.Equal(new ThreadPlan(TextEmbedding: 1, ImageEmbedding: 1, Transformer: 2, VqDecoder: 2), Plan(390_000_000));
        Assert.Equal(new ThreadPlan(1, 1, 2, 2), Plan(ThreadPlan.LargeModelBytes));
        // A larger machine keeps ONNX Runtime's count of physical cores (0).
        Assert.Equal(new ThreadPlan(1, 1, 0, 0), Plan(390_000_000, processors: 64));
    }

    [Fact]
    public void ALargeTextEncoderGetsThreadsAndTheImageTableNever()
    {
        // LlamaGen exports FLAN-T5's encoder inside the text graph.
        Assert.Equal(new ThreadPlan(4, 1, 4, 4), Plan(3_000_000_000, text: 4_800_000_000, processors: 4));
        Assert.Equal(new ThreadPlan(4, 1, 1, 1), Plan(11_200_000, text: 4_800_000_000, processors: 4));
    }

    [Fact]
    public void ExplicitThreadsApplyToEveryGraphAndOtherProvidersKeepTheirDefault()
    {
        Assert.Equal(new ThreadPlan(3, 3, 3, 3), Plan(1, options: new PipelineOptions { IntraOpThreads = 3 }));
        Assert.Equal(new ThreadPlan(0, 0, 0, 0), Plan(1, provider: ExecutionProvider.Cuda));
    }

    [Fact]
    public void APipelineReportsThePlanItsSessionsWereOpenedWith()
    {
        using var pipeline = Sjd2Pipeline.Load(SpeculativeTestSupport.ModelDir("tiny"));
        Assert.Equal(new ThreadPlan(1, 1, 1, 1), pipeline.Sessions.Threads);
        using var two = Sjd2Pipeline.Load(SpeculativeTestSupport.ModelDir("tiny"), new PipelineOptions { IntraOpThreads = 2 });
        Assert.Equal(new ThreadPlan(2, 2, 2, 2), two.Sessions.Threads);
    }
}
