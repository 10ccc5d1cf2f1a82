using System.Diagnostics;
using System.Globalization;
using Sjd2Onnx.Tests.Support;

namespace Sjd2Onnx.Tests;

/// <summary>
/// The process around the command: Ctrl+C ends every phase with exit code 130 (also phases that
/// do not check for cancellation), closed standard streams and a removed current folder give one
/// line and exit code 1, never a stack trace or an abort.
/// </summary>
public class CliEdgeTests
{
    /// <summary>Name → (arguments, milliseconds before SIGINT).</summary>
    public static TheoryData<string, string[], int> Phases() => new()
    {
        { "generate, starting up", ["generate", "a red circle", "--out", "{out}", "--count", "10000", "--model", "{tiny}", "--method", "sjd"], 100 },
        { "generate, loading or decoding", ["generate", "a red circle", "--out", "{out}", "--count", "10000", "--model", "{tiny}", "--method", "sjd"], 700 },
        { "eval --validate, scoring (no cancellation checks inside)", ["eval", "--validate", "{shapes}"], 2000 },
        { "bench, timing methods", ["bench", "--model", "{tiny}", "--methods", "ar,sjd", "--prompts", "200", "--seeds", "5"], 2500 },
        { "serve, listening", ["serve", "--model", "{tiny}", "--urls", "http://127.0.0.1:0"], 3000 },
    };

    [Theory]
    [MemberData(nameof(Phases))]
    public async Task CtrlCEndsEveryPhaseWith130WithinTenSeconds(string name, string[] args, int delayMs)
    {
        if (OperatingSystem.IsWindows()) return; // SIGINT is sent with kill(1)
        using var temp = new TempDir();
        var resolved = args.Select(a => a.Replace("{out}", temp.File("a.png")).Replace("{tiny}", TestPaths.Model("tiny"))
            .Replace("{shapes}", Path.Combine(TestPaths.RepoRoot, "tests", "data", "shapes"))).ToArray();
        using var p = Sjd2Cli.Start(resolved, temp.Path, defaultSigint: true);
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await Task.Delay(delayMs);
        if (p.HasExited) Assert.Fail($"{name}: ended before SIGINT (exit {p.ExitCode}): {await stderr}");
        var sent = Stopwatch.StartNew();
        using (var kill = Process.Start("kill", ["-INT", p.Id.ToString(CultureInfo.InvariantCulture)])) kill.WaitForExit();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try { await p.WaitForExitAsync(timeout.Token); }
        catch (OperationCanceledException) { p.Kill(entireProcessTree: true); Assert.Fail($"{name}: still running 10 s after SIGINT"); }
        string err = await stderr;
        await stdout;
        Assert.True(p.ExitCode == 130, $"{name}: exit {p.ExitCode} after {sent.ElapsedMilliseconds} ms\n{err}");
        Assert.DoesNotContain("   at ", err);
        Assert.DoesNotContain("Exception", err);
        Assert.Empty(Directory.GetFiles(temp.Path, ".sjd2-*")); // no temporary file left behind
    }

    [Fact]
    public void ClosedStandardOutputIsOneLineAndExitCode1()
    {
        using var temp = new TempDir();
        foreach (var args in new[] { $"generate 'a red circle' --out - --model {Quote(TestPaths.Model("tiny"))}", $"info --model {Quote(TestPaths.Model("tiny"))}" })
        {
            var r = Shell($"exec \"$SJD2_HOST\" \"$SJD2_DLL\" {args} >&-", temp.Path);
            Assert.True(r.ExitCode == 1, r.ToString());
            string line = Assert.Single(r.StderrLines);
            Assert.StartsWith("sjd2: error: cannot write to standard output", line);
        }
    }

    [Fact]
    public void ClosedStandardErrorDoesNotFailARun()
    {
        using var temp = new TempDir();
        var r = Shell($"exec \"$SJD2_HOST\" \"$SJD2_DLL\" generate 'a red circle' --out a.png --model {Quote(TestPaths.Model("tiny"))} --method pac 2>&-", temp.Path);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.True(File.Exists(temp.File("a.png")));
    }

    [Fact]
    public void ARemovedCurrentFolderIsOneLineAndAbsolutePathsStillWork()
    {
        using var temp = new TempDir();
        string tiny = Quote(TestPaths.Model("tiny"));
        string gone = "mkdir gone && cd gone && rmdir ../gone && exec \"$SJD2_HOST\" \"$SJD2_DLL\"";
        var relative = Shell($"{gone} generate 'a red circle' --out a.png --model {tiny}", temp.Path);
        Assert.True(relative.ExitCode == 1, relative.ToString());
        Assert.Equal("sjd2: error: the current folder no longer exists; cd to a folder that exists, or give absolute paths.", Assert.Single(relative.StderrLines));
        var absolute = Shell($"{gone} generate 'a red circle' --out {Quote(temp.File("a.png"))} --model {tiny} --quiet", temp.Path);
        Assert.True(absolute.ExitCode == 0, absolute.ToString());
        Assert.True(File.Exists(temp.File("a.png")));
    }

    private static string Quote(string path) => "'" + path.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    // Runs a /bin/sh script with $SJD2_HOST (dotnet) and $SJD2_DLL (sjd2.dll) set.
    private static Sjd2Cli.Result Shell(string script, string workingDirectory)
    {
        string host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h && File.Exists(h) ? h : "dotnet";
        var psi = new ProcessStartInfo("/bin/sh")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(script);
        psi.Environment["SJD2_HOST"] = host;
        psi.Environment["SJD2_DLL"] = TestPaths.CliDll;
        psi.Environment["DOTNET_NOLOGO"] = "1";
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("could not start /bin/sh");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"sh -c {script} did not finish in 60 s");
        }
        p.WaitForExit();
        return new Sjd2Cli.Result(p.ExitCode, stdout.Result, stderr.Result);
    }
}
