namespace Sjd2Onnx;

/// <summary>
/// The names of the <see cref="DecodingMethod"/> values as the command line, the server, the
/// Microsoft.Extensions.AI adapter and PNG metadata write and read them: "ar", "sjd", "sjd++",
/// "pac", "sjd2". One table, so that a name one of them writes the others can read.
/// </summary>
public static class DecodingMethodNames
{
    /// <summary>Every method's name, in the order the command line lists them.</summary>
    public static IReadOnlyList<string> All { get; } = [.. MethodOptions.Defaults.Select(o => o.Name)];

    /// <summary>The name of <paramref name="method"/> (e.g. "sjd++" for <see cref="DecodingMethod.SjdPlusPlus"/>).</summary>
    public static string ToName(DecodingMethod method) =>
        MethodOptions.Defaults.FirstOrDefault(o => o.Method == method)?.Name ?? method.ToString().ToLowerInvariant();

    /// <summary>
    /// Reads a method name: case and surrounding spaces are ignored, and "sjdpp", "sjdplusplus" and
    /// "sjd-plus-plus" also mean sjd++ (a "+" is awkward in some shells and URLs).
    /// </summary>
    public static bool TryParse(string? text, out DecodingMethod method)
    {
        string? name = text?.Trim().ToLowerInvariant();
        var found = MethodOptions.Defaults.FirstOrDefault(o => o.Name == name || o.Aliases.Contains(name));
        method = found?.Method ?? default;
        return found is not null;
    }
}
