using System.Text;

namespace Sjd2Onnx.Cli;

/// <summary>
/// Standard output and standard error that fail cleanly when closed or broken (<c>sjd2 … &gt;&amp;-</c>,
/// a pipe whose reader has gone): a failed write to standard output is an <see cref="IOException"/>
/// that says so, which the command line reports in one line with exit code 1; writes to a closed
/// standard error are dropped, since there is nowhere else to report anything.
/// </summary>
internal static class StandardStreams
{
    public static void Guard()
    {
        Console.SetOut(TextWriter.Synchronized(new GuardedWriter(Console.Out, "standard output", drop: false)));
        Console.SetError(TextWriter.Synchronized(new GuardedWriter(Console.Error, "standard error", drop: true)));
    }

    /// <summary>Runs a write to standard output's byte stream, naming the stream when it fails.</summary>
    public static void WriteStdout(Action<Stream> write)
    {
        try
        {
            using var stdout = Console.OpenStandardOutput();
            write(stdout);
            stdout.Flush();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            throw Closed("standard output", e);
        }
    }

    private static IOException Closed(string stream, Exception e) =>
        new($"cannot write to {stream} ({CliApp.FirstLine(e.Message).TrimEnd('.')}); is it closed, or did its reader exit?", e);

    private sealed class GuardedWriter(TextWriter inner, string name, bool drop) : TextWriter
    {
        public override Encoding Encoding => inner.Encoding;

        public override void Write(char value) => Guard(() => inner.Write(value));

        public override void Write(string? value) => Guard(() => inner.Write(value));

        public override void Write(char[] buffer, int index, int count) => Guard(() => inner.Write(buffer, index, count));

        public override void WriteLine(string? value) => Guard(() => inner.WriteLine(value));

        public override void Flush() => Guard(inner.Flush);

        private void Guard(Action write)
        {
            try { write(); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ObjectDisposedException)
            {
                if (!drop) throw Closed(name, e);
            }
        }
    }
}
