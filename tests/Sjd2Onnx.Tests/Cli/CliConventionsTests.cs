using System.Diagnostics;
using System.Reflection;
using System.Text.RegularExpressions;
using Sjd2Onnx.Imaging;
using Sjd2Onnx.Tests.Support;

namespace Sjd2Onnx.Tests;

/// <summary>
/// sjd2 behaves like a System.CommandLine tool: per-command help, --version, response files, --,
/// completions, documented exit codes, and a cancelled run that ends cleanly.
/// </summary>
public partial class CliConventionsTests
{
    private static readonly string[] Commands = ["generate", "bench", "eval", "info", "parity", "help"];

    private static readonly string[] GenerateOptions =
    [
        "--out", "--seed", "--count", "--method", "--window", "--init", "--reuse", "--reuse-threshold", "--denoise-steps",
        "--kv", "--accept-noise", "--cfg", "--temperature", "--top-k", "--top-p", "--trace", "--model", "--ep", "--device-id", "--threads", "--verbose", "--quiet",
    ];

    [Theory]
    [InlineData("--help")]
    [InlineData("-h")]
    public void EveryCommandHasItsOwnHelpAndDoesNotRun(string flag)
    {
        foreach (var command in Commands)
        {
            // A model folder that does not exist: the command would fail if help ran it.
            string[] args = command == "help" ? [command, flag] : [command, flag, "--model", "/no/such/model"];
            var r = Sjd2Cli.Run(args);
            Assert.True(r.ExitCode == 0, $"{command} {flag}: {r}");
            Assert.Equal("", r.Stderr);
            Assert.Contains($"sjd2 {command}", r.Stdout);
            Assert.Contains("Usage:", r.Stdout);
        }
    }

    [Fact]
    public void GenerateHelpListsEveryOptionAndMatchesHelpCommand()
    {
        var help = Sjd2Cli.Run("generate", "--help");
        foreach (var option in GenerateOptions)
            Assert.Matches(new Regex($@"(^|[\s,]){Regex.Escape(option)} ", RegexOptions.Multiline), help.Stdout);
        Assert.Equal(help.Stdout, Sjd2Cli.Run("help", "generate").Stdout);
    }

    [Fact]
    public void WithoutACommandTheOverviewIsAUsageError()
    {
        var r = Sjd2Cli.Run();
        Assert.Equal(2, r.ExitCode);
        foreach (var command in Commands) Assert.Contains(command, r.Stdout);
        Assert.Contains("Exit codes", r.Stdout);
        var help = Sjd2Cli.Run("help");
        Assert.Equal(0, help.ExitCode);
        Assert.Equal(r.Stdout, help.Stdout);
    }

    [Fact]
    public void VersionIsTheOneInDirectoryBuildProps()
    {
        var r = Sjd2Cli.Run("--version");
        Assert.Equal(0, r.ExitCode);
        string props = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "Directory.Build.props"));
        string version = VersionElement().Match(props).Groups[1].Value;
        Assert.NotEqual("", version);
        Assert.Equal(version, r.Stdout.Trim());
        Assert.Equal(version, AssemblyName.GetAssemblyName(TestPaths.CliDll).Version!.ToString(3));
    }

    [Fact]
    public void ResponseFileGivesTheSameImageAsTheCommandLine()
    {
        using var temp = new TempDir();
        string tiny = TestPaths.Model("tiny");
        string rsp = temp.File("args.rsp");
        File.WriteAllLines(rsp, ["\"a red circle\"", $"--model \"{tiny}\"", "--seed 10", "--quiet"]);
        var fromFile = Sjd2Cli.Run("generate", $"@{rsp}", "--out", temp.File("file.png"));
        Assert.True(fromFile.ExitCode == 0, fromFile.ToString());
        var direct = Sjd2Cli.Run("generate", "a red circle", "--model", tiny, "--seed", "10", "--quiet", "--out", temp.File("direct.png"));
        Assert.True(direct.ExitCode == 0, direct.ToString());
        Assert.Equal(File.ReadAllBytes(temp.File("direct.png")), File.ReadAllBytes(temp.File("file.png")));
    }

    [Fact]
    public void DoubleDashLetsAPromptStartWithADash()
    {
        using var temp = new TempDir();
        string tiny = TestPaths.Model("tiny");
        var refused = Sjd2Cli.Run("generate", "-a star", "--out", temp.File("a.png"), "--model", tiny);
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("goes after --", refused.Stderr);
        var r = Sjd2Cli.Run("generate", "--out", temp.File("a.png"), "--model", tiny, "--quiet", "--", "-a star");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.True(File.Exists(temp.File("a.png")));
        // After --, what looks like a switch with a value is prompt text too.
        var words = Sjd2Cli.Run("generate", "--out", temp.File("b.png"), "--model", tiny, "--quiet", "--", "--top=left red circle");
        Assert.True(words.ExitCode == 0, words.ToString());
        Assert.Equal("--top=left red circle", PngMetadata.Read(File.ReadAllBytes(temp.File("b.png")))?.Prompt);
    }

    [Fact]
    public void CompletionsOfferCommandsAndTheWordsTheParserTakes()
    {
        var commands = Sjd2Cli.Run("[suggest]", "gen");
        Assert.Equal(0, commands.ExitCode);
        Assert.Equal(["generate"], Lines(commands.Stdout));
        const string line = "generate --method ";
        var methods = Sjd2Cli.Run($"[suggest:{line.Length}]", line);
        Assert.Equal(0, methods.ExitCode);
        Assert.Equal(["ar", "pac", "sjd", "sjd++", "sjd2"], Lines(methods.Stdout).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task TopKZeroTurnsTopKOff()
    {
        using var temp = new TempDir();
        string tiny = TestPaths.Model("tiny");
        var r = Sjd2Cli.Run("generate", "a red circle", "--out", temp.File("a.png"), "--model", tiny, "--seed", "4", "--top-k", "0", "--quiet");
        Assert.True(r.ExitCode == 0, r.ToString());
        using var pipeline = Sjd2Pipeline.Load(tiny);
        var result = await pipeline.GenerateAsync("a red circle", new GenerationOptions { Seed = 4, Sampling = new() { TopK = 0 } });
        Assert.Equal(PngFile.Encode(result.Image, PngMetadata.From(result)), File.ReadAllBytes(temp.File("a.png")));
    }

    [Fact]
    public void OutDashWritesThePngToStandardOutput()
    {
        using var temp = new TempDir();
        string tiny = TestPaths.Model("tiny");
        var (code, stdout, stderr) = Sjd2Cli.RunBinary("generate", "a blue square", "--out", "-", "--model", tiny, "--seed", "3");
        Assert.True(code == 0, stderr);
        Assert.StartsWith("<stdout>: ", stderr); // the summary moves to standard error
        Assert.Equal(0, Sjd2Cli.Run("generate", "a blue square", "--out", temp.File("b.png"), "--model", tiny, "--seed", "3", "--quiet").ExitCode);
        Assert.Equal(File.ReadAllBytes(temp.File("b.png")), stdout);
    }

    [Fact]
    public void NamesWithoutExtensionGetPngLikeNumberedOnes()
    {
        using var temp = new TempDir();
        string tiny = TestPaths.Model("tiny");
        Assert.Equal(0, Sjd2Cli.Run("generate", "a star", "--out", temp.File("image"), "--model", tiny, "--quiet").ExitCode);
        Assert.Equal(0, Sjd2Cli.Run("generate", "a star", "--out", temp.File("many"), "--count", "2", "--model", tiny, "--quiet").ExitCode);
        Assert.Equal(["image.png", "many-1.png", "many-2.png"], Directory.GetFiles(temp.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task CtrlCEndsTheProgressLineExitsWith130AndLeavesOnlyWholeImages()
    {
        if (OperatingSystem.IsWindows()) return; // SIGINT is sent with kill(1)
        using var temp = new TempDir();
        var env = new Dictionary<string, string> { ["SJD2_PROGRESS"] = "always" };
        using var p = Sjd2Cli.Start(["generate", "a red circle", "--out", temp.File("many.png"), "--count", "10000", "--model", TestPaths.Model("tiny"), "--method", "sjd"], null, env, defaultSigint: true);
        var stderr = p.StandardError.ReadToEndAsync();
        // The first summary line: images are being written and the progress line is being drawn.
        string? first = await p.StandardOutput.ReadLineAsync();
        Assert.NotNull(first);
        var stdout = p.StandardOutput.ReadToEndAsync();
        using (var kill = Process.Start("kill", ["-INT", p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) kill.WaitForExit();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try { await p.WaitForExitAsync(timeout.Token); }
        catch (OperationCanceledException) { p.Kill(entireProcessTree: true); Assert.Fail("sjd2 did not stop after SIGINT"); }
        Assert.Equal(130, p.ExitCode);
        string err = await stderr;
        Assert.Contains("tokens", err); // the progress line was drawn
        Assert.EndsWith("\nsjd2: cancelled.\n", err.ReplaceLineEndings("\n"));
        Assert.DoesNotContain("Exception", err);
        await stdout;
        var files = Directory.GetFiles(temp.Path);
        Assert.NotEmpty(files);
        Assert.All(files, f =>
        {
            Assert.Matches(@"many-\d+\.png$", f);
            var bytes = File.ReadAllBytes(f);
            Assert.Equal("IEND", System.Text.Encoding.ASCII.GetString(bytes, bytes.Length - 8, 4));
        });
    }

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    [GeneratedRegex(@"<Version>([^<]+)</Version>")]
    private static partial Regex VersionElement();
}
