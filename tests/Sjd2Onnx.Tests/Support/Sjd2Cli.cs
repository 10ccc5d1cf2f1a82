using System.Diagnostics;

namespace Sjd2Onnx.Tests.Support;

/// <summary>Runs the sjd2 CLI as a child process (<c>dotnet sjd2.dll ...</c>) and captures its output.</summary>
internal static class Sjd2Cli
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public string[] StderrLines => Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToArray();
        public override string ToString() => $"exit {ExitCode}\n--- stdout ---\n{Stdout}\n--- stderr ---\n{Stderr}";
    }

    public static Result Run(params string[] args) => Run(args, workingDirectory: null);

    public static Result Run(IEnumerable<string> args, string? workingDirectory) => RunDll(TestPaths.CliDll, args, workingDirectory);

    /// <summary>Runs another copy of the CLI (for example one without its native ONNX Runtime library).</summary>
    public static Result RunDll(string cliDll, IEnumerable<string> args, string? workingDirectory = null)
    {
        // The SDK tells child processes which dotnet host runs them; fall back to PATH.
        string host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h && File.Exists(h) ? h : "dotnet";
        var psi = new ProcessStartInfo(host)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Path.GetTempPath(),
        };
        psi.ArgumentList.Add(cliDll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("could not start dotnet");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"sjd2 {string.Join(' ', args)} did not finish in 60 s");
        }
        p.WaitForExit();
        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }
}
