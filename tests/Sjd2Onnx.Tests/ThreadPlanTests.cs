using Sjd2Onnx.Model;

namespace Sjd2Onnx.Tests;

/// <summary>Which intra-op threads each graph gets: by model size on the CPU, or as the options fix them.</summary>
public class ThreadPlanTests
{
    [Fact]
    public void SmallModelsRunEveryGraphOnTheCallingThread()
    {
        var plan = ThreadPlan.For(new PipelineOptions(), ExecutionProvider.Cpu, 11_200_000); // the default model
        Assert.Equal(new ThreadPlan(1, 1, 1), plan);
    }

    [Fact]
    public void LargeModelsGiveTheTransformerAndTheVqDecoderEveryCore()
    {
        // GPT-B in float32 on a 2-vCPU machine: both, whether they are two cores or one core's two hardware threads.
        var plan = ThreadPlan.For(new PipelineOptions(), ExecutionProvider.Cpu, 390_000_000, processors: 2);
        Assert.Equal(new ThreadPlan(Embeddings: 1, Transformer: 2, VqDecoder: 2), plan);
        Assert.Equal(plan, ThreadPlan.For(new PipelineOptions(), ExecutionProvider.Cpu, ThreadPlan.LargeModelBytes, processors: 2));
        Assert.Equal(new ThreadPlan(1, 1, 1), ThreadPlan.For(new PipelineOptions(), ExecutionProvider.Cpu, ThreadPlan.LargeModelBytes - 1, processors: 2));
        // A larger machine keeps ONNX Runtime's count of physical cores (0).
        Assert.Equal(new ThreadPlan(1, 0, 0), ThreadPlan.For(new PipelineOptions(), ExecutionProvider.Cpu, 390_000_000, processors: 64));
    }

    [Fact]
    public void ExplicitThreadsApplyToEveryGraphAndOtherProvidersKeepTheirDefault()
    {
        Assert.Equal(new ThreadPlan(3, 3, 3), ThreadPlan.For(new PipelineOptions { IntraOpThreads = 3 }, ExecutionProvider.Cpu, 1));
        Assert.Equal(new ThreadPlan(0, 0, 0), ThreadPlan.For(new PipelineOptions(), ExecutionProvider.Cuda, 1));
    }

    [Fact]
    public void APipelineReportsThePlanItsSessionsWereOpenedWith()
    {
        using var pipeline = Sjd2Pipeline.Load(SpeculativeTestSupport.ModelDir("tiny"));
        Assert.Equal(new ThreadPlan(1, 1, 1), pipeline.Sessions.Threads);
        using var two = Sjd2Pipeline.Load(SpeculativeTestSupport.ModelDir("tiny"), new PipelineOptions { IntraOpThreads = 2 });
        Assert.Equal(new ThreadPlan(2, 2, 2), two.Sessions.Threads);
    }
}
