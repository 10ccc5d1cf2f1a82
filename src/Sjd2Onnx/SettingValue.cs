using System.Globalization;

namespace Sjd2Onnx;

/// <summary>
/// Reads the text of one <c>key=value</c> setting; a value that does not parse is refused with a
/// message that starts with the key and says what it takes (ranges are the options' own checks).
/// </summary>
internal static class SettingValue
{
    public static int Int(string key, string text, string what = "an integer")
    {
        if (!int.TryParse(text.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out int v))
            throw SettingError.For(key, $"{key} must be {what}, got '{text}'.");
        return v;
    }

    public static ulong ULong(string key, string text)
    {
        if (!ulong.TryParse(text.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out ulong v))
            throw SettingError.For(key, $"{key} must be an integer from 0 to {ulong.MaxValue}, got '{text}'.");
        return v;
    }

    public static float Float(string key, string text)
    {
        if (!float.TryParse(text.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out float v))
            throw SettingError.For(key, $"{key} must be a number, got '{text}'.");
        return v;
    }

    public static bool IsAuto(string text) => string.Equals(text.Trim(), "auto", StringComparison.OrdinalIgnoreCase);

    /// <summary>One word of <paramref name="words"/>, case-insensitive.</summary>
    public static T OneOf<T>(string key, string text, string hint, params (string Word, T Value)[] words)
    {
        string lower = text.Trim().ToLowerInvariant();
        foreach (var (word, value) in words)
            if (word == lower) return value;
        throw SettingError.For(key, $"unknown {key} '{text}'; use {hint}.");
    }

    public static DraftInitialization Init(string key, string text) => OneOf(key, text, "random, horizontal or vertical (or noise for sjd2)",
        ("random", DraftInitialization.Random), ("horizontal", DraftInitialization.Horizontal), ("vertical", DraftInitialization.Vertical),
        ("noise", DraftInitialization.Noise));

    public static DraftReuse Reuse(string key, string text) => OneOf(key, text, "coupled, threshold or none",
        ("coupled", DraftReuse.Coupled), ("threshold", DraftReuse.Threshold), ("none", DraftReuse.None));

    /// <summary><c>exact</c>, <c>approx</c>, or a noise limit (the limit mode).</summary>
    public static (Sjd2KvMode Mode, float? Limit) Kv(string key, string text)
    {
        string lower = text.Trim().ToLowerInvariant();
        if (lower == "exact") return (Sjd2KvMode.Exact, null);
        if (lower is "approx" or "approximate") return (Sjd2KvMode.Approximate, null);
        if (float.TryParse(lower, NumberStyles.Float, CultureInfo.InvariantCulture, out float limit)) return (Sjd2KvMode.Limit, limit);
        throw SettingError.For(key, $"unknown {key} '{text}'; use exact, approx or a noise limit in [0, 1] (e.g. {Sjd2Options.DefaultKvNoiseLimit.ToString(CultureInfo.InvariantCulture)}).");
    }

    /// <summary>A draft-tree shape: <c>WxD</c> (e.g. <c>3x1</c>) or a bare <c>1</c> for chain drafts (width 1, depth 0).</summary>
    public static (int Width, int Depth) Tree(string key, string text)
    {
        var parts = text.Trim().ToLowerInvariant().Split('x');
        if (parts.Length == 1 && parts[0] == "1") return (1, 0);
        if (parts.Length == 2
            && int.TryParse(parts[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out int width)
            && int.TryParse(parts[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out int depth))
            return (width, depth);
        throw SettingError.For(key, $"{key} must be WIDTHxDEPTH (e.g. 3x1) or 1 for chains, got '{text}'.");
    }
}
