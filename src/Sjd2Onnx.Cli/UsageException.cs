namespace Sjd2Onnx.Cli;

/// <summary>A command line that cannot be run as written; the message says what to change (exit code 2).</summary>
internal sealed class UsageException(string message) : Exception(message)
{
    /// <summary>Runs <paramref name="check"/>, turning the engine's one-line refusal into a usage error: the engine checks values the user typed.</summary>
    public static T FromEngine<T>(Func<T> check)
    {
        try { return check(); }
        catch (Sjd2Exception e) { throw new UsageException(e.Message); }
    }

    /// <inheritdoc cref="FromEngine{T}(Func{T})"/>
    public static void FromEngine(Action check)
    {
        try { check(); }
        catch (Sjd2Exception e) { throw new UsageException(e.Message); }
    }
}
