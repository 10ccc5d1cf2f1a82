namespace Sjd2Onnx;

/// <summary>
/// Reads <c>key=value</c> settings (<c>method=sjd2</c>, <c>window=24</c>, <c>kv=exact</c>,
/// <c>top_k=0</c>) into <see cref="GenerationOptions"/>: the one reader behind the command line, the
/// server, bench method specs and the Microsoft.Extensions.AI adapter. A refusal is a
/// <see cref="Sjd2Exception"/> whose message starts with the key and says how to fix the value.
/// </summary>
public static class SettingsBinder
{
    private static readonly DecodingMethod[] Methods =
        [DecodingMethod.Ar, DecodingMethod.Sjd, DecodingMethod.SjdPlusPlus, DecodingMethod.Pac, DecodingMethod.Sjd2];

    /// <summary>Every key, in the order the front ends list them; a dash may stand for an underscore (<c>reuse-threshold</c>).</summary>
    public static IReadOnlyList<string> Keys { get; } =
        ["method", "seed", .. SamplingOverrides.Keys, .. Methods.SelectMany(m => MethodOptions.For(m).Keys).Distinct()];

    /// <summary>
    /// <paramref name="options"/> with <paramref name="settings"/> applied in order; <c>method</c> is
    /// applied first, and a different method starts from its defaults. A key of another method is
    /// refused, or skipped with <paramref name="skipOtherMethods"/> (settings shared by several methods).
    /// </summary>
    /// <exception cref="Sjd2Exception">An unknown key, a value that does not parse or is out of range, or a key of another method.</exception>
    public static GenerationOptions Bind(GenerationOptions options, IEnumerable<KeyValuePair<string, string>> settings, bool skipOtherMethods = false)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(settings);
        var list = settings.Select(s => (Key: Normalize(s.Key), s.Value)).ToList();
        foreach (var (_, value) in list.Where(s => s.Key == "method"))
        {
            var method = ParseMethod(value);
            if (method != options.Method) options = options with { Decoding = MethodOptions.For(method) };
        }
        foreach (var (key, value) in list)
        {
            if (key == "method") continue;
            if (key == "seed") options = options with { Seed = SettingValue.ULong(key, value) };
            else if (SamplingOverrides.Keys.Contains(key)) options = options with { Sampling = options.Sampling.With(key, value) };
            else if (options.Decoding.Keys.Contains(key)) options = options with { Decoding = options.Decoding.With(key, value) };
            else if (!Keys.Contains(key)) throw SettingError.For(key, $"unknown setting '{key}'; use {string.Join(", ", Keys)}.");
            else if (!skipOtherMethods) throw NotForMethod(key, options.Method);
        }
        options.Decoding.Validate();
        return options;
    }

    /// <summary>Reads a method name (<see cref="DecodingMethodNames.TryParse"/>), refusing an unknown one under the key <c>method</c>.</summary>
    /// <exception cref="Sjd2Exception">Not a method's name.</exception>
    public static DecodingMethod ParseMethod(string name) => DecodingMethodNames.TryParse(name, out var method) ? method
        : throw SettingError.For("method", $"unknown method '{name}'; use {Names(DecodingMethodNames.All)}.");

    // The one rule for a setting given to a method that has no such option: the methods that have it say so.
    private static Sjd2Exception NotForMethod(string key, DecodingMethod method)
    {
        var takers = Methods.Where(m => MethodOptions.For(m).Keys.Contains(key)).Select(DecodingMethodNames.ToName).ToList();
        return SettingError.For(key, $"{key} applies to method {Names(takers)}, not {DecodingMethodNames.ToName(method)}.");
    }

    private static string Names(IReadOnlyList<string> names) =>
        names.Count == 1 ? names[0] : $"{string.Join(", ", names.Take(names.Count - 1))} or {names[^1]}";

    private static string Normalize(string key) => key.Trim().ToLowerInvariant().Replace('-', '_');
}
