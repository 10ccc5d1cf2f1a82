namespace Sjd2Onnx.Server.Tests;

/// <summary>The concurrency limit and the queue in front of the generations.</summary>
public class GenerationGateTests
{
    [Fact]
    public async Task SlotsThenTheQueueThenRejection()
    {
        using var gate = new GenerationGate(new ServerOptions { ModelDirectory = "unused", MaxConcurrent = 1, QueueLimit = 1 });
        var first = await gate.EnterAsync(CancellationToken.None);
        Assert.NotNull(first);
        Assert.Equal(1, gate.Running);

        var waiting = gate.EnterAsync(CancellationToken.None);
        Assert.False(waiting.IsCompleted);
        Assert.Equal(1, gate.Queued);

        Assert.Null(await gate.EnterAsync(CancellationToken.None)); // queue full: turned away at once
        Assert.Equal(1, gate.Rejected);
        Assert.InRange(gate.RetryAfterSeconds(), 1, 3600);

        first!.Outcome = GenerationOutcome.Completed;
        first.Dispose();
        using var second = await waiting.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.NotNull(second);
        Assert.Equal(0, gate.Queued);
        Assert.Equal(1, gate.Completed);
    }

    [Fact]
    public async Task AClientThatGoesAwayLeavesTheQueue()
    {
        using var gate = new GenerationGate(new ServerOptions { ModelDirectory = "unused", MaxConcurrent = 1, QueueLimit = 1 });
        using var first = await gate.EnterAsync(CancellationToken.None);
        using var gone = new CancellationTokenSource();
        var waiting = gate.EnterAsync(gone.Token);
        Assert.Equal(1, gate.Queued);
        gone.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        Assert.Equal(0, gate.Queued);
        // Its place is free again.
        var next = gate.EnterAsync(CancellationToken.None);
        Assert.False(next.IsCompleted);
        first!.Dispose();
        using var slot = await next.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.NotNull(slot);
        Assert.Equal(1, gate.Failed); // first never said it completed
    }
}
