namespace Sjd2Onnx.Cli;

/// <summary>
/// One cancellation story for the whole command line. The first Ctrl+C (SIGINT) cancels the
/// command's token: the decode loop, the batch loops and the checks between phases stop, clean up
/// and exit with 130. A phase that cannot observe the token (a long model load, a blocked read
/// or write) gets <see cref="Grace"/> to finish; after it, or at a second Ctrl+C, the process ends
/// at once with 130. An exception that escapes on another thread ends the process with one line
/// and exit code 1, never a stack trace.
/// </summary>
internal static class Interrupts
{
    /// <summary>How long a phase that does not observe cancellation may run on after Ctrl+C.</summary>
    public static readonly TimeSpan Grace = TimeSpan.FromSeconds(3);

    private static int _interrupts;

    public static void Install(CancellationTokenSource cancel)
    {
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            if (Interlocked.Increment(ref _interrupts) > 1) ExitCancelled();
            try { cancel.Cancel(); }
            catch (ObjectDisposedException) { return; } // the command has finished
            _ = Task.Delay(Grace).ContinueWith(_ => ExitCancelled(), TaskScheduler.Default);
        };
        AppDomain.CurrentDomain.UnhandledException += (_, e) =>
        {
            string message = e.ExceptionObject is Exception ex ? CliApp.FirstLine(ex.Message) : "unknown failure";
            CliApp.WriteError($"sjd2: error: {message}");
            Exit(ExitCodes.Failure);
        };
    }

    private static void ExitCancelled()
    {
        CliApp.WriteError("sjd2: cancelled.");
        Exit(ExitCodes.Cancelled);
    }

    // Not Environment.Exit on Unix: it runs the process-exit handlers, and the web host's handler
    // waits for the very phase that is stuck. The process ends here, as the signal would have ended it.
    private static void Exit(int code)
    {
        Imaging.OutputFile.DeletePendingTemporaryFiles(); // nothing half-written is left behind
        if (!OperatingSystem.IsWindows()) ExitNow(code);
        Environment.Exit(code);
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "_exit")]
    private static extern void ExitNow(int status);
}
