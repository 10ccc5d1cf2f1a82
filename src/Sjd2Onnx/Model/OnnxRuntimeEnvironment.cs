using System.Collections.Immutable;
using Microsoft.ML.OnnxRuntime;

namespace Sjd2Onnx.Model;

/// <summary>
/// ONNX Runtime's process-wide environment, created with a logging callback so that ONNX Runtime never
/// writes its own (ANSI-coloured) lines to stderr: each message goes to the pipelines that asked for
/// it, and errors are also captured on the calling thread to explain a provider that fails to load.
/// </summary>
internal static class OnnxRuntimeEnvironment
{
    /// <summary>The environment's log id: messages not tied to one session (provider library loads) carry it.</summary>
    public const string LogId = "sjd2";

    private static readonly Lock Gate = new();
    // Native code keeps a pointer to this delegate for the life of the process: it must never be collected.
    private static readonly DOrtLoggingFunction Callback = OnMessage;
    private static volatile OrtEnv? _env;
    private static ImmutableArray<Listener> _listeners = [];
    private static OnnxRuntimeLogLevel _envLevel = OnnxRuntimeLogLevel.Warning;
    private static long _nextSessionLogId;
    [ThreadStatic] private static List<string>? _capture;

    private sealed record Listener(string LogId, Action<string> Sink, OnnxRuntimeLogLevel Level);

    /// <summary>True when ONNX Runtime's messages come to this class (false if the application created the environment first).</summary>
    public static bool RoutesLog { get; private set; }

    /// <summary>The environment, created on first use; a one-line <see cref="Sjd2Exception"/> when the native library is missing.</summary>
    public static OrtEnv Get()
    {
        if (_env is { } env) return env;
        lock (Gate)
        {
            if (_env is not null) return _env;
            try
            {
                if (OrtEnv.IsCreated) _env = OrtEnv.Instance(); // the application's own environment and logging
                else
                {
                    var options = new EnvironmentCreationOptions
                    {
                        logId = LogId,
                        logLevel = ToOrt(_envLevel),
                        loggingFunction = Callback,
                    };
                    _env = OrtEnv.CreateInstanceWithOptions(ref options);
                    RoutesLog = true;
                }
            }
            catch (Exception e) when (NativeLibraryProblem(e))
            {
                throw NativeLibraryMissing(e);
            }
            return _env;
        }
    }

    /// <summary>A log id for one pipeline's sessions, so their messages reach that pipeline's sink only.</summary>
    public static string NewSessionLogId() => $"{SessionLogIdPrefix}{Interlocked.Increment(ref _nextSessionLogId)}";

    private const string SessionLogIdPrefix = LogId + "-";

    /// <summary>Sends messages of <paramref name="logId"/>'s sessions, and process-wide ones, to <paramref name="sink"/> until disposed.</summary>
    public static IDisposable Listen(string logId, Action<string> sink, OnnxRuntimeLogLevel level)
    {
        var env = Get();
        var listener = new Listener(logId, sink, level);
        lock (Gate)
        {
            _listeners = _listeners.Add(listener);
            if (RoutesLog && level < _envLevel)
            {
                // The environment's level filters process-wide messages before the callback; lowered, never raised again.
                env.EnvLogLevel = ToOrt(level);
                _envLevel = level;
            }
        }
        return new Registration(listener);
    }

    /// <summary>Collects the warnings and errors ONNX Runtime reports on this thread until disposed.</summary>
    public static IDisposable CaptureOnThisThread(out IReadOnlyList<string> messages)
    {
        var previous = _capture;
        var list = new List<string>();
        _capture = list;
        messages = list;
        return new CaptureScope(previous);
    }

    /// <summary>One line for a log message: severity letter and message, no colour codes.</summary>
    internal static string Format(OrtLoggingLevel severity, string message) =>
        $"onnxruntime {Letter(severity)}: {StripControl(message)}";

    /// <summary>True for the exceptions .NET raises when the onnxruntime native library cannot be loaded.</summary>
    internal static bool NativeLibraryProblem(Exception e) => e switch
    {
        // EntryPointNotFound here: a native library too old for these bindings (no OrtGetApiBase).
        DllNotFoundException or BadImageFormatException or EntryPointNotFoundException => true,
        TypeInitializationException t => t.TypeName?.StartsWith("Microsoft.ML.OnnxRuntime", StringComparison.Ordinal) == true
                                         || (t.InnerException is { } inner && NativeLibraryProblem(inner)),
        _ => false,
    };

    /// <summary>One line naming the packages instead of a raw TypeInitializationException.</summary>
    internal static Sjd2Exception NativeLibraryMissing(Exception e) => new(
        "the ONNX Runtime native library (onnxruntime) cannot be loaded: the application must reference one native package, " +
        $"version {ManagedVersion()}: Microsoft.ML.OnnxRuntime (CPU), Microsoft.ML.OnnxRuntime.Gpu (CUDA) or Microsoft.ML.OnnxRuntime.DirectML (Windows).", e);

    /// <summary>The managed bindings' version, which the native package must match.</summary>
    internal static string ManagedVersion()
    {
        var v = typeof(OrtEnv).Assembly.GetName().Version;
        return v is null ? "matching Microsoft.ML.OnnxRuntime.Managed" : $"{v.Major}.{v.Minor}.{v.Build}";
    }

    internal static OrtLoggingLevel ToOrt(OnnxRuntimeLogLevel level) => level switch
    {
        OnnxRuntimeLogLevel.Verbose => OrtLoggingLevel.ORT_LOGGING_LEVEL_VERBOSE,
        OnnxRuntimeLogLevel.Info => OrtLoggingLevel.ORT_LOGGING_LEVEL_INFO,
        OnnxRuntimeLogLevel.Warning => OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING,
        OnnxRuntimeLogLevel.Error => OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        _ => OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL,
    };

    private static void OnMessage(IntPtr param, OrtLoggingLevel severity, string category, string logId, string codeLocation, string message)
    {
        // Called from native code: nothing may escape from here.
        try
        {
            if (severity >= OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING) _capture?.Add(message);
            var listeners = _listeners;
            if (listeners.IsEmpty) return;
            // A session's message goes to its own pipeline only; the rest (provider loads) to every listener.
            bool sessionMessage = logId.StartsWith(SessionLogIdPrefix, StringComparison.Ordinal);
            string? line = null;
            foreach (var l in listeners)
            {
                if (severity < ToOrt(l.Level) || (sessionMessage && l.LogId != logId)) continue;
                line ??= Format(severity, message);
                try { l.Sink(line); } catch (Exception) { /* a failing sink must not take the native call down */ }
            }
        }
        catch (Exception) { /* see above */ }
    }

    private static char Letter(OrtLoggingLevel severity) => severity switch
    {
        OrtLoggingLevel.ORT_LOGGING_LEVEL_VERBOSE => 'V',
        OrtLoggingLevel.ORT_LOGGING_LEVEL_INFO => 'I',
        OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING => 'W',
        OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR => 'E',
        _ => 'F',
    };

    // ONNX Runtime's messages are plain text; escape and other control characters are dropped in case
    // a message quotes terminal output, so a log line can never recolour or move the user's terminal.
    private static string StripControl(string s)
    {
        string trimmed = s.TrimEnd('\r', '\n', ' ');
        if (!trimmed.Any(c => char.IsControl(c) && c != '\n' && c != '\t')) return trimmed;
        return new string([.. trimmed.Where(c => !char.IsControl(c) || c == '\n' || c == '\t')]);
    }

    private sealed class Registration(Listener listener) : IDisposable
    {
        public void Dispose()
        {
            lock (Gate) _listeners = _listeners.Remove(listener);
        }
    }

    private sealed class CaptureScope(List<string>? previous) : IDisposable
    {
        public void Dispose() => _capture = previous;
    }
}
