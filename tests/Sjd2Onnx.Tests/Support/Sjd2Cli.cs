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
        using var p = Start(args, workingDirectory, cliDll: cliDll);
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        WaitOrKill(p, args);
        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Runs sjd2 keeping standard output as bytes (for <c>--out -</c>).</summary>
    public static (int ExitCode, byte[] Stdout, string Stderr) RunBinary(params string[] args)
    {
        using var p = Start(args, null);
        using var bytes = new MemoryStream();
        var stdout = p.StandardOutput.BaseStream.CopyToAsync(bytes);
        var stderr = p.StandardError.ReadToEndAsync();
        WaitOrKill(p, args);
        stdout.Wait();
        return (p.ExitCode, bytes.ToArray(), stderr.Result);
    }

    /// <summary>
    /// Starts sjd2 with redirected streams; <paramref name="environment"/> adds variables. With
    /// <paramref name="defaultSigint"/>, SIGINT is reset to its default first (through GNU env):
    /// a test run started in the background inherits SIGINT ignored, and .NET keeps it ignored.
    /// <paramref name="cliDll"/> runs another copy of sjd2.dll than the one beside the tests.
    /// </summary>
    public static Process Start(IEnumerable<string> args, string? workingDirectory, IReadOnlyDictionary<string, string>? environment = null, bool defaultSigint = false,
        string? cliDll = null)
    {
        // The SDK tells child processes which dotnet host runs them; fall back to PATH.
        string host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h && File.Exists(h) ? h : "dotnet";
        var psi = new ProcessStartInfo(defaultSigint ? "env" : host)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Path.GetTempPath(),
        };
        if (defaultSigint)
        {
            psi.ArgumentList.Add("--default-signal=INT");
            psi.ArgumentList.Add(host);
        }
        psi.ArgumentList.Add(cliDll ?? TestPaths.CliDll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        return Process.Start(psi) ?? throw new InvalidOperationException("could not start dotnet");
    }

    private static void WaitOrKill(Process p, IEnumerable<string> args)
    {
        if (!p.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"sjd2 {string.Join(' ', args)} did not finish in 60 s");
        }
        p.WaitForExit();
    }
}
