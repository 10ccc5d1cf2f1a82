using System.Diagnostics;
using System.Threading.RateLimiting;

namespace Sjd2Onnx.Server;

/// <summary>A held generation slot; disposing it frees the slot and records <see cref="Outcome"/>.</summary>
internal sealed class GenerationSlot(GenerationGate gate, RateLimitLease lease) : IDisposable
{
    private readonly long _start = Stopwatch.GetTimestamp();
    private bool _disposed;

    /// <summary>How the request ended; failed unless the handler says otherwise.</summary>
    public GenerationOutcome Outcome { get; set; } = GenerationOutcome.Failed;

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        lease.Dispose();
        gate.Leave(Outcome, Stopwatch.GetElapsedTime(_start));
    }
}
