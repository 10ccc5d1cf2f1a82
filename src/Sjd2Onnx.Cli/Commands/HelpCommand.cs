using System.CommandLine;

namespace Sjd2Onnx.Cli.Commands;

/// <summary><c>sjd2 help [command]</c>: the same text as <c>sjd2 [command] --help</c>.</summary>
internal static class HelpCommand
{
    /// <summary>The <c>help</c> command of <paramref name="root"/>.</summary>
    public static Command Create(RootCommand root)
    {
        var name = new Argument<string?>("command") { Description = "The command to describe.", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("help", "Show help for sjd2 or one of its commands.");
        command.Arguments.Add(name);
        command.SetAction(parse =>
        {
            string? wanted = parse.GetValue(name);
            if (wanted is not null && !root.Subcommands.Any(c => c.Name == wanted))
                throw new UsageException($"unknown command '{wanted}'; commands: {CliApp.CommandNames(root)}.");
            return root.Parse(wanted is null ? ["--help"] : [wanted, "--help"]).Invoke();
        });
        return command;
    }
}
