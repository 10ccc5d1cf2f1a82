using System.CommandLine.Parsing;
using Sjd2Onnx.IO;

namespace Sjd2Onnx.Cli;

/// <summary>
/// Expands <c>@FILE</c> arguments before parsing: each line of the file holds one or more
/// arguments (quoted as on a shell command line), <c>#</c> starts a comment line, and a file may
/// name further response files. Only regular files of bounded size are read, nesting is limited,
/// and a file that includes itself (directly or through others) is refused; arguments after
/// <c>--</c> are taken as they are.
/// </summary>
internal static class ResponseFiles
{
    /// <summary>Deepest nesting of response files (a file naming a file naming a file …).</summary>
    public const int MaxDepth = 8;

    /// <summary>Most arguments all response files together may give.</summary>
    public const int MaxArguments = 100_000;

    /// <summary>The arguments with every response file replaced by its contents.</summary>
    /// <exception cref="UsageException">A missing, special, huge or cyclic response file.</exception>
    public static string[] Expand(string[] args)
    {
        var result = new List<string>(args.Length);
        var chain = new List<string>();
        bool options = true;
        foreach (var arg in args)
            Add(arg, result, chain, ref options);
        return [.. result];
    }

    private static void Add(string arg, List<string> result, List<string> chain, ref bool options)
    {
        if (options && arg == "--") options = false;
        if (!options || arg.Length < 2 || arg[0] != '@')
        {
            if (result.Count >= MaxArguments)
                throw new UsageException($"response files give more than {MaxArguments} arguments; check them for a loop or a wrong file.");
            result.Add(arg);
            return;
        }
        string path = arg[1..];
        string full;
        try { full = Path.GetFullPath(path); }
        catch (Exception e) when (e is ArgumentException or IOException or NotSupportedException)
        {
            throw new UsageException($"response file '{path}' is not a usable path ({e.Message}).");
        }
        if (chain.Contains(full, StringComparer.Ordinal))
            throw new UsageException($"response file '{path}' includes itself ({string.Join(" → ", chain.Append(full).Select(Path.GetFileName))}); remove the @{Path.GetFileName(full)} line.");
        if (chain.Count >= MaxDepth)
            throw new UsageException($"response files nest more than {MaxDepth} deep at '{path}'; flatten them.");
        string? kind = Imaging.FileKind.Describe(full);
        if (kind is null)
            throw new UsageException($"response file '{path}' does not exist; check the path after @ (an argument that starts with @ is read as a response file).");
        if (kind == "a folder")
            throw new UsageException($"response file '{path}' is a folder; give a file of arguments after @.");
        string[] lines = UsageException.FromEngine(() => InputFile.ReadAllLines(full, InputFile.MaxTextBytes, "response file"));
        chain.Add(full);
        foreach (var line in lines)
        {
            string trimmed = line.Trim();
            if (trimmed.Length == 0 || trimmed.StartsWith('#')) continue;
            foreach (var token in CommandLineParser.SplitCommandLine(trimmed))
                Add(token, result, chain, ref options);
        }
        chain.RemoveAt(chain.Count - 1);
    }
}
