using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Sjd2Onnx.Server.Tests.Support;

namespace Sjd2Onnx.Server.Tests;

/// <summary><c>sjd2 serve</c> as a process: it starts and answers, or fails with one line.</summary>
public partial class ServeCommandTests
{
    [Theory]
    [InlineData("--max-concurrent 0", "--max-concurrent must be between 1 and 1024, got 0")]
    [InlineData("--queue -1", "--queue must be between 0 and 100000, got -1")]
    [InlineData("\"a red circle\"", "'serve' takes no positional argument")]
    [InlineData("--colour red", "'serve' has no option --colour")]
    [InlineData("--model /no/such/model", "/no/such/model")]
    public void BadOptionsAreOneLineUsageErrors(string args, string expected)
    {
        using var p = Start(SplitArgs(args).Append("--urls").Append("http://127.0.0.1:0"));
        var (exit, stdout, stderr) = Finish(p, TimeSpan.FromMinutes(1));
        Assert.True(exit == 2, $"exit {exit}\n{stdout}\n{stderr}");
        string line = Assert.Single(Lines(stderr));
        Assert.StartsWith("sjd2: error: ", line);
        Assert.Contains(expected, line);
    }

    [Fact]
    public void HelpListsTheOptionsAndStartsNothing()
    {
        // A model folder that does not exist: serve would fail if help ran it.
        using var p = Start(["--help", "--model", "/no/such/model"]);
        var (exit, stdout, stderr) = Finish(p, TimeSpan.FromMinutes(1));
        Assert.True(exit == 0, $"exit {exit}\n{stdout}\n{stderr}");
        Assert.Equal("", stderr);
        foreach (var option in new[] { "--urls", "--max-concurrent", "--queue", "--model", "--ep", "--device-id" })
            Assert.Contains(option, stdout);
    }

    [Fact]
    public void AnAddressInUseIsAOneLineError()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        int port = ((IPEndPoint)taken.LocalEndpoint).Port;
        using var p = Start(["--model", TestPaths.Model("tiny"), "--urls", $"http://127.0.0.1:{port}"]);
        var (exit, stdout, stderr) = Finish(p, TimeSpan.FromMinutes(1));
        Assert.True(exit == 1, $"exit {exit}\n{stdout}\n{stderr}"); // a run-time failure, not a usage error
        Assert.StartsWith($"sjd2: error: cannot listen on http://127.0.0.1:{port}: ", Assert.Single(Lines(stderr)));
    }

    [Fact]
    public async Task ServeListensAndAnswers()
    {
        using var p = Start(["--model", TestPaths.Model("tiny"), "--urls", "http://127.0.0.1:0", "--max-concurrent", "2", "--queue", "3"]);
        try
        {
            var stderr = p.StandardError.ReadToEndAsync();
            string? address = null;
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
            while (address is null && await p.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
                if (ListeningOn().Match(line) is { Success: true } m) address = m.Groups[1].Value;
            Assert.True(address is not null, $"no 'Now listening on' line; stderr: {(p.HasExited ? await stderr : "")}");
            _ = p.StandardOutput.ReadToEndAsync(); // keep draining the log

            using var client = new HttpClient { BaseAddress = new Uri(address) };
            string health = await client.GetStringAsync("/health");
            Assert.Contains("\"status\":\"ok\"", health);
            string info = await client.GetStringAsync("/api/info");
            Assert.Contains("\"max_concurrent\":2", info);
            Assert.Contains("\"queue\":3", info);
        }
        finally
        {
            p.Kill(entireProcessTree: true);
            await p.WaitForExitAsync();
        }
    }

    private static Process Start(IEnumerable<string> serveArgs)
    {
        string host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h && File.Exists(h) ? h : "dotnet";
        var psi = new ProcessStartInfo(host)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetTempPath(),
        };
        psi.ArgumentList.Add(TestPaths.CliDll);
        psi.ArgumentList.Add("serve");
        foreach (var a in serveArgs) psi.ArgumentList.Add(a);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        return Process.Start(psi) ?? throw new InvalidOperationException("could not start dotnet");
    }

    private static (int Exit, string Stdout, string Stderr) Finish(Process p, TimeSpan limit)
    {
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(limit))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"sjd2 serve did not exit within {limit}");
        }
        p.WaitForExit();
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    private static IEnumerable<string> SplitArgs(string args) =>
        ArgPattern().Matches(args).Select(m => m.Value.Trim('"'));

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToArray();

    [GeneratedRegex("Now listening on: (http://\\S+)")]
    private static partial Regex ListeningOn();

    [GeneratedRegex("\"[^\"]*\"|\\S+")]
    private static partial Regex ArgPattern();
}
