using System.Threading.RateLimiting;

namespace Sjd2Onnx.Server;

/// <summary>
/// Bounds the generations: <see cref="ServerOptions.MaxConcurrent"/> run, up to
/// <see cref="ServerOptions.QueueLimit"/> wait (oldest first), the rest are turned away at once
/// with a Retry-After estimated from recent generation times. Also counts outcomes for /health.
/// </summary>
internal sealed class GenerationGate : IDisposable
{
    private readonly ConcurrencyLimiter _limiter;
    private readonly int _permits;
    private long _meanTicks = TimeSpan.FromSeconds(1).Ticks; // running mean of one request's duration
    private long _running, _completed, _cancelled, _rejected, _failed;

    public GenerationGate(ServerOptions options)
    {
        _permits = options.MaxConcurrent;
        _limiter = new ConcurrencyLimiter(new ConcurrencyLimiterOptions
        {
            PermitLimit = options.MaxConcurrent,
            QueueLimit = options.QueueLimit,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        });
    }

    /// <summary>Waits for a slot; null when the queue is full. Cancelling drops the request from the queue.</summary>
    public async Task<GenerationSlot?> EnterAsync(CancellationToken cancellationToken)
    {
        var lease = await _limiter.AcquireAsync(1, cancellationToken);
        if (!lease.IsAcquired)
        {
            lease.Dispose();
            Interlocked.Increment(ref _rejected);
            return null;
        }
        Interlocked.Increment(ref _running);
        return new GenerationSlot(this, lease);
    }

    /// <summary>Seconds a turned-away client should wait: the work ahead of it shared by the slots.</summary>
    public int RetryAfterSeconds()
    {
        long queued = _limiter.GetStatistics()?.CurrentQueuedCount ?? 0;
        double seconds = TimeSpan.FromTicks(Interlocked.Read(ref _meanTicks)).TotalSeconds * (queued + _permits) / _permits;
        return (int)Math.Clamp(Math.Ceiling(seconds), 1, 3600);
    }

    public long Running => Interlocked.Read(ref _running);
    public long Queued => _limiter.GetStatistics()?.CurrentQueuedCount ?? 0;
    public long Completed => Interlocked.Read(ref _completed);
    public long Cancelled => Interlocked.Read(ref _cancelled);
    public long Rejected => Interlocked.Read(ref _rejected);
    public long Failed => Interlocked.Read(ref _failed);

    public void Dispose() => _limiter.Dispose();

    internal void Leave(GenerationOutcome outcome, TimeSpan elapsed)
    {
        Interlocked.Decrement(ref _running);
        switch (outcome)
        {
            case GenerationOutcome.Completed:
                Interlocked.Increment(ref _completed);
                // Exponential mean: recent requests count most; races lose an update at worst.
                long mean = Interlocked.Read(ref _meanTicks);
                Interlocked.Exchange(ref _meanTicks, mean + (elapsed.Ticks - mean) / 4);
                break;
            case GenerationOutcome.Cancelled: Interlocked.Increment(ref _cancelled); break;
            default: Interlocked.Increment(ref _failed); break;
        }
    }
}
