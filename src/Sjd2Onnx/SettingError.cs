namespace Sjd2Onnx;

/// <summary>
/// Refusals of a request value (cfg, seed, window, …) shared by every front end: the message names
/// the setting by its key (<c>cfg</c>, <c>top_k</c>, <c>reuse_threshold</c>), never a command-line
/// flag, and the key travels in <see cref="Exception.Data"/> so that the server can report it as
/// the field at fault and the command line can name its own option.
/// </summary>
internal static class SettingError
{
    /// <summary>The <see cref="Exception.Data"/> entry holding the key.</summary>
    public const string DataKey = "sjd2.setting";

    /// <summary>A one-line refusal of the setting <paramref name="key"/>; the message should start with the key.</summary>
    public static Sjd2Exception For(string key, string message)
    {
        var e = new Sjd2Exception(message);
        e.Data[DataKey] = key;
        return e;
    }

    /// <summary>The key of the setting an exception refuses, or null.</summary>
    public static string? KeyOf(Exception e) => e.Data[DataKey] as string;

    /// <summary>Checks that seeds <paramref name="first"/> … first + count − 1 exist (none wraps to 0).</summary>
    public static void CheckSeedRange(ulong first, long count)
    {
        if (count > 0 && first > ulong.MaxValue - (ulong)(count - 1))
            throw For("seed", $"seed {first} with {count} images runs past the largest seed {ulong.MaxValue}; use a smaller seed.");
    }
}
