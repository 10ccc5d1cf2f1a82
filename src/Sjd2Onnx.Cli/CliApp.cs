using System.CommandLine;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;
using Sjd2Onnx.Cli.Commands;

namespace Sjd2Onnx.Cli;

/// <summary>
/// The sjd2 command line: every command declared once (one file each under Commands/), parsed by
/// System.CommandLine, with errors as one line on standard error and documented exit codes.
/// </summary>
internal static class CliApp
{
    private const string Description = """
        sjd2: text-to-image with autoregressive image-token models in ONNX, accelerated by
        speculative Jacobi decoding (sjd, sjd++) and Jacobi-denoising decoding (sjd2).

        Without --model, the model in the repository's onnx/ folder is used. 'sjd2 COMMAND --help'
        describes a command; @FILE reads arguments from a response file; -- ends the options (for a
        prompt that starts with '-').

        Exit codes: 0 done; 1 the run failed (unusable model, unwritable file, engine error, or a
        check that did not pass); 2 the command line is wrong (unknown option, bad value, a prompt
        the model cannot take); 130 cancelled with Ctrl+C.
        """;

    /// <summary>Builds the root command. A new command is one file under Commands/ and one line here.</summary>
    public static RootCommand BuildRoot()
    {
        var root = new RootCommand(Description);
        root.Subcommands.Add(GenerateCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(EvalCommand.Create());
        root.Subcommands.Add(InfoCommand.Create());
        root.Subcommands.Add(ParityCommand.Create());
        root.Subcommands.Add(ServeCommand.Create());
        root.Subcommands.Add(HelpCommand.Create(root));
        return root;
    }

    /// <summary>Parses and runs <paramref name="args"/>; returns the process exit code.</summary>
    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var root = BuildRoot();
        if (args.Length == 0)
        {
            // No command: the overview, as a usage error (a script that forgot its arguments fails).
            await root.Parse(["--help"]).InvokeAsync(cancellationToken: cancellationToken);
            return ExitCodes.Usage;
        }
        try
        {
            // Response files are expanded here, not by the parser: bounded, regular files only, no cycles.
            args = ResponseFiles.Expand(args);
            var parse = root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
            if (parse.Errors.Count > 0 && parse.Action is ParseErrorAction or null)
                return Fail(ExitCodes.Usage, Describe(parse, root));
            if (parse.Action is not ParseErrorAction && Misread(parse, args) is { } misread)
                return Fail(ExitCodes.Usage, misread);
            var invocation = new InvocationConfiguration
            {
                EnableDefaultExceptionHandler = false,
                ProcessTerminationTimeout = null, // Ctrl+C is handled by Interrupts: cancel, clean up, exit 130
            };
            int code = await parse.InvokeAsync(invocation, cancellationToken);
            // A command that ended on its own after Ctrl+C (serve stops; a last image was written) still reports it.
            return code == ExitCodes.Success && cancellationToken.IsCancellationRequested ? Cancelled() : code;
        }
        catch (UsageException e)
        {
            return Fail(ExitCodes.Usage, e.Message);
        }
        catch (Sjd2Exception e)
        {
            return Fail(ExitCodes.Failure, UsageException.InCliTerms(e));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return Cancelled();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Standard output closed or broken, the current folder removed, a disk error mid-write.
            if (CurrentFolder() is null && !e.Message.StartsWith("cannot write to standard", StringComparison.Ordinal))
                return Fail(ExitCodes.Failure, "the current folder no longer exists; cd to a folder that exists, or give absolute paths.");
            return Fail(ExitCodes.Failure, e.Message.StartsWith("cannot write to standard", StringComparison.Ordinal)
                ? FirstLine(e.Message)
                : FirstLine(e.Message).TrimEnd('.') + "; check the paths and the disk.");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return Fail(ExitCodes.Failure, $"{FirstLine(e.Message).TrimEnd('.')} ({e.GetType().Name}); this is a bug in sjd2, please report it with the command line.");
        }
    }

    /// <summary>The current folder, or null when it has been removed (or cannot be read).</summary>
    public static string? CurrentFolder()
    {
        try { return Directory.GetCurrentDirectory(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    /// <summary>The first line of <paramref name="message"/>: errors are one line.</summary>
    public static string FirstLine(string message)
    {
        int i = message.IndexOfAny(['\r', '\n']);
        return i < 0 ? message : message[..i];
    }

    /// <summary>Writes one line to standard error; a closed or broken standard error is ignored (there is nowhere else to say it).</summary>
    public static void WriteError(string line)
    {
        try
        {
            StatusLine.End();
            Console.Error.WriteLine(line);
            Console.Error.Flush();
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or UnauthorizedAccessException)
        {
            // nothing to do
        }
    }

    private static int Cancelled()
    {
        WriteError("sjd2: cancelled.");
        return ExitCodes.Cancelled;
    }

    /// <summary>The command names, for messages.</summary>
    public static string CommandNames(RootCommand root) => string.Join(", ", root.Subcommands.Select(c => c.Name));

    private static int Fail(int code, string message)
    {
        WriteError($"sjd2: error: {message}");
        return code;
    }

    /// <summary>
    /// What System.CommandLine accepts but the user surely did not mean: an unknown option taken
    /// as a positional argument (<c>generate "a cat" --colour red</c>), or a switch given a value
    /// other than true or false (<c>--quiet=no</c>, split by the parser into --quiet and a word).
    /// </summary>
    private static string? Misread(ParseResult parse, string[] args)
    {
        var command = parse.CommandResult.Command;
        foreach (var option in command.Options.Where(o => o.ValueType == typeof(bool)))
        {
            foreach (var arg in args.TakeWhile(a => a != "--"))
            {
                int eq = arg.IndexOf('=');
                if (eq > 0 && (arg[..eq] == option.Name || option.Aliases.Contains(arg[..eq])) && !bool.TryParse(arg[(eq + 1)..], out _))
                    return $"{option.Name} is a switch: give it alone (or {option.Name}=true / {option.Name}=false), got '{arg[(eq + 1)..]}'.";
            }
        }
        // Tokens after -- are arguments whatever they look like; before it, '-x' is meant as an option.
        var tokens = parse.Tokens;
        int doubleDash = tokens.ToList().FindIndex(t => t.Type == TokenType.DoubleDash);
        foreach (var argument in command.Arguments)
        {
            if (parse.GetResult(argument) is not { } result) continue;
            foreach (var token in result.Tokens)
            {
                if (token.Value.Length < 2 || token.Value[0] != '-' || double.TryParse(token.Value, out _)) continue;
                int index = tokens.ToList().IndexOf(token);
                if (doubleDash < 0 || index < doubleDash)
                    return $"'{command.Name}' has no option {token.Value}; see 'sjd2 {command.Name} --help' (a {argument.Name} that starts with '-' goes after --).";
            }
        }
        return null;
    }

    /// <summary>
    /// One line for a parse failure: the first error, worded like sjd2's own messages where
    /// System.CommandLine's would be vague (unknown command, unknown option), with where to look.
    /// </summary>
    private static string Describe(ParseResult parse, RootCommand root)
    {
        var command = parse.CommandResult.Command;
        string help = command == root ? "'sjd2 --help'" : $"'sjd2 {command.Name} --help'";
        string? unknownOption = parse.UnmatchedTokens.FirstOrDefault(t => t.StartsWith('-'));
        if (unknownOption is not null)
            return command == root
                ? $"unknown option {unknownOption}; options go after the command, see {help}."
                : $"'{command.Name}' has no option {unknownOption}; see {help}.";
        if (command == root)
        {
            string? first = parse.UnmatchedTokens.FirstOrDefault();
            return first is null
                ? $"no command given; commands: {CommandNames(root)}; see {help}."
                : $"unknown command '{first}'; commands: {CommandNames(root)}; see {help}.";
        }
        if (parse.UnmatchedTokens.FirstOrDefault() is { } stray)
            return command.Arguments.Count == 0
                ? $"'{command.Name}' takes no positional argument (got '{stray}'); see {help}."
                : $"unexpected argument '{stray}' (quote a prompt of several words); see {help}.";
        string message = parse.Errors[0].Message.TrimEnd('.');
        return $"{message}; see {help}.";
    }
}
