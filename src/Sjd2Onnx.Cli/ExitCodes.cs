namespace Sjd2Onnx.Cli;

/// <summary>The exit codes of sjd2 (listed in <c>sjd2 --help</c> and the README).</summary>
internal static class ExitCodes
{
    /// <summary>Done.</summary>
    public const int Success = 0;

    /// <summary>The run failed: an unusable model, a file that cannot be read or written, an engine error, or a check that did not pass (parity, eval --validate).</summary>
    public const int Failure = 1;

    /// <summary>The command line cannot be run as written: unknown command or option, a bad value, a prompt the model cannot take.</summary>
    public const int Usage = 2;

    /// <summary>Cancelled with Ctrl+C (128 + SIGINT).</summary>
    public const int Cancelled = 130;
}
