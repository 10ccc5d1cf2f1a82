namespace Sjd2Onnx.Cli;

/// <summary>A command line that cannot be run as written; the message says what to change (exit code 2).</summary>
internal sealed class UsageException(string message) : Exception(message)
{
    /// <summary>Runs <paramref name="check"/>, turning the engine's one-line refusal into a usage error: the engine checks values the user typed.</summary>
    public static T FromEngine<T>(Func<T> check)
    {
        try { return check(); }
        catch (Sjd2Exception e) { throw new UsageException(InCliTerms(e)); }
    }

    /// <inheritdoc cref="FromEngine{T}(Func{T})"/>
    public static void FromEngine(Action check)
    {
        try { check(); }
        catch (Sjd2Exception e) { throw new UsageException(InCliTerms(e)); }
    }

    /// <summary>
    /// The engine's message with the setting it refuses named as the command line's option: the
    /// engine says <c>top_p must be in (0, 1]</c>, sjd2 says <c>--top-p must be in (0, 1]</c>.
    /// </summary>
    public static string InCliTerms(Sjd2Exception e)
    {
        string message = e.Message;
        if (SettingError.KeyOf(e) is not { } key) return message;
        string flag = "--" + key.Replace('_', '-');
        if (StartsWithWord(message, key)) return flag + message[key.Length..];
        const string unknown = "unknown ";
        if (message.StartsWith(unknown, StringComparison.Ordinal) && StartsWithWord(message[unknown.Length..], key))
            return unknown + flag + message[(unknown.Length + key.Length)..];
        return message;
    }

    private static bool StartsWithWord(string message, string word) =>
        message.StartsWith(word, StringComparison.Ordinal) && message.Length > word.Length && message[word.Length] is ' ' or ':';
}
