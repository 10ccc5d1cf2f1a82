namespace Sjd2Onnx.Cli;

/// <summary>
/// The one progress line on standard error, redrawn in place with a carriage return. It is drawn
/// only when standard error is a terminal (or <c>SJD2_PROGRESS=always</c>), so logs and pipes stay
/// plain; <see cref="End"/> finishes an open line before anything else is written to standard error.
/// </summary>
internal static class StatusLine
{
    private static readonly Lock Gate = new();
    private static int _openWidth; // characters of the line now on screen; 0 when none is open

    /// <summary>Whether progress is drawn: not with <c>--quiet</c>, and only on a terminal unless forced.</summary>
    public static bool Enabled(bool quiet) => !quiet && Environment.GetEnvironmentVariable("SJD2_PROGRESS") switch
    {
        "always" => true,
        "never" => false,
        _ => !Console.IsErrorRedirected,
    };

    /// <summary>Replaces the line on screen with <paramref name="text"/>.</summary>
    public static void Show(string text)
    {
        lock (Gate)
        {
            Console.Error.Write("\r" + text + new string(' ', Math.Max(0, _openWidth - text.Length)));
            _openWidth = Math.Max(1, text.Length);
        }
    }

    /// <summary>Ends the open line, if any, so that what follows starts on a line of its own.</summary>
    public static void End()
    {
        lock (Gate)
        {
            if (_openWidth == 0) return;
            Console.Error.WriteLine();
            _openWidth = 0;
        }
    }
}
