using System.CommandLine;

namespace Sjd2Onnx.Cli.Options;

/// <summary>Options several commands have, each declared here once.</summary>
internal static class SharedOptions
{
    /// <summary><c>--quiet</c>: no progress and no summary lines.</summary>
    public static Option<bool> Quiet() => Switch("--quiet", "No progress line and no summary lines (errors are still printed).", "-q");

    /// <summary><c>--seed</c>: the first seed; image i (from 0) of a run uses seed + i.</summary>
    public static Option<ulong?> Seed(string description) => new("--seed")
    {
        Description = description,
        HelpName = "N",
        CustomParser = ValueParsers.ULong("--seed"),
    };

    /// <summary><c>--json</c>: where a command writes its machine-readable report.</summary>
    public static Option<string?> Json(string description) => new("--json")
    {
        Description = description,
        HelpName = "FILE",
    };

    /// <summary>An on/off switch that refuses values other than true and false.</summary>
    public static Option<bool> Switch(string name, string description, params string[] aliases) => new(name, aliases)
    {
        Description = description,
        Arity = ArgumentArity.ZeroOrOne,
        CustomParser = ValueParsers.Switch(name),
    };

    /// <summary>Checks that seeds <paramref name="first"/> … first + count − 1 exist (no silent wrap to 0), by the engine's rule.</summary>
    public static void CheckSeedRange(ulong first, long count) => UsageException.FromEngine(() => SettingError.CheckSeedRange(first, count));
}
