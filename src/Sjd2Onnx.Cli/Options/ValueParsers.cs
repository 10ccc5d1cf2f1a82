using System.CommandLine.Parsing;
using System.Globalization;

namespace Sjd2Onnx.Cli.Options;

/// <summary>
/// Parsers for option values that word their errors like the rest of sjd2 ("--count must be an
/// integer, got 'x'."), instead of System.CommandLine's generic type-conversion message.
/// </summary>
internal static class ValueParsers
{
    /// <summary>An integer in [<paramref name="min"/>, <paramref name="max"/>]; <paramref name="meaning"/> explains the range in the error.</summary>
    public static Func<ArgumentResult, int?> Int(string name, int min, int max, string? meaning = null) => result =>
    {
        string text = Single(result);
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v))
            return Fail<int?>(result, $"{name} must be an integer, got '{text}'.");
        if (v < min || v > max)
            return Fail<int?>(result, max == int.MaxValue
                ? $"{name} must be at least {min}{meaning}, got {v}."
                : $"{name} must be between {min} and {max}{meaning}, got {v}.");
        return v;
    };

    /// <summary>A non-negative 64-bit integer (seeds).</summary>
    public static Func<ArgumentResult, ulong?> ULong(string name) => result =>
    {
        string text = Single(result);
        if (!ulong.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out ulong v))
            return Fail<ulong?>(result, $"{name} must be an integer from 0 to {ulong.MaxValue}, got '{text}'.");
        return v;
    };

    /// <summary>A number; range checks that depend on the model are left to the engine.</summary>
    public static Func<ArgumentResult, float?> Float(string name) => result =>
    {
        string text = Single(result);
        if (!float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out float v))
            return Fail<float?>(result, $"{name} must be a number, got '{text}'.");
        return v;
    };

    /// <summary>A word from a fixed list, case-insensitive, returned in lower case.</summary>
    public static Func<ArgumentResult, string?> OneOf(string name, string hint, params string[] words) => result =>
    {
        string text = Single(result).Trim();
        string lower = text.ToLowerInvariant();
        if (words.Contains(lower)) return lower;
        return Fail<string?>(result, $"unknown {name} '{text}'; use {hint}.");
    };

    /// <summary>
    /// A switch: given alone it is on. An explicit value must be true or false, so that
    /// <c>--quiet=no</c> is refused instead of meaning yes.
    /// </summary>
    public static Func<ArgumentResult, bool> Switch(string name) => result =>
    {
        if (result.Tokens.Count == 0) return true;
        string text = result.Tokens[0].Value.Trim();
        if (bool.TryParse(text, out bool v)) return v;
        return Fail<bool>(result, $"{name} is a switch: give it alone (or {name}=true / {name}=false), got '{text}'.");
    };

    private static string Single(ArgumentResult result) => result.Tokens.Count == 0 ? "" : result.Tokens[0].Value;

    private static T Fail<T>(ArgumentResult result, string message)
    {
        result.AddError(message);
        return default!;
    }
}
