using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Sjd2Onnx.Server.Tests.Support;

/// <summary>A logger provider that keeps the server's log lines (category: message) for assertions.</summary>
internal sealed class LogCapture : ILoggerProvider, ILogger
{
    private readonly ConcurrentQueue<string> _lines = new();

    public IReadOnlyList<string> Lines => [.. _lines];

    public ILogger CreateLogger(string categoryName) => categoryName == Sjd2Server.LogCategory ? this : NullLogger;

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (IsEnabled(logLevel)) _lines.Enqueue(formatter(state, exception));
    }

    public void Dispose() { }

    private static ILogger NullLogger => Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
}
