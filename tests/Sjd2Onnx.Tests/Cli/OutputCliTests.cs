using Sjd2Onnx.Tests.Support;

namespace Sjd2Onnx.Tests;

/// <summary>The CLI's outputs: links written through, long names, a reused --trace folder.</summary>
public class OutputCliTests
{
    private const string Prompt = "a red circle";

    [Fact]
    public void OutThroughASymlinkReplacesItsTargetAndKeepsTheLink()
    {
        using var temp = new TempDir();
        string target = temp.File("target.png"), link = temp.File("link.png");
        File.WriteAllText(target, "old");
        File.CreateSymbolicLink(link, target);
        var r = Sjd2Cli.Run("generate", Prompt, "--out", link, "--model", TestPaths.Model("tiny"), "--quiet");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(target, new FileInfo(link).LinkTarget);
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], File.ReadAllBytes(target)[..4]);
        Assert.Equal(2, Directory.GetFileSystemEntries(temp.Path).Length); // no temp file left
    }

    [Fact]
    public void LongButLegalOutputNamesWork()
    {
        using var temp = new TempDir();
        string path = temp.File(new string('n', 250) + ".png");
        var r = Sjd2Cli.Run("generate", Prompt, "--out", path, "--model", TestPaths.Model("tiny"), "--quiet");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal([path], Directory.GetFileSystemEntries(temp.Path));
    }

    [Fact]
    public void AReusedTraceFolderHoldsOnlyTheLatestTrace()
    {
        using var temp = new TempDir();
        string trace = temp.File("trace");
        // The default model, where SJD surely needs fewer passes than AR (on tiny's random weights it may not).
        string model = Path.Combine(TestPaths.RepoRoot, "onnx");
        string[] Run(string method)
        {
            var r = Sjd2Cli.Run("generate", Prompt, "--out", temp.File("a.png"), "--trace", trace, "--method", method, "--model", model, "--quiet");
            Assert.True(r.ExitCode == 0, r.ToString());
            return [.. Directory.GetFiles(trace).Select(Path.GetFileName).Order(StringComparer.Ordinal)!];
        }
        var ar = Run("ar");
        var sjd = Run("sjd");
        Assert.True(ar.Length > sjd.Length, "AR writes more pass previews than SJD");
        var passes = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(trace, "trace.json"))).RootElement.GetProperty("passes").GetInt32();
        Assert.All(sjd.Where(f => f.StartsWith("pass-")), f => Assert.True(int.Parse(f[5..8]) <= passes, $"stale {f}"));
        Assert.Equal(sjd, Directory.GetFiles(trace).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray());

        // A folder with anything else in it is refused and left as it is.
        File.WriteAllText(Path.Combine(trace, "notes.txt"), "mine");
        var before = BadInputTests.Snapshot(trace);
        var refused = Sjd2Cli.Run("generate", Prompt, "--out", temp.File("b.png"), "--trace", trace, "--model", TestPaths.Model("tiny"));
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("notes.txt", refused.Stderr);
        Assert.Equal(before, BadInputTests.Snapshot(trace));
        Assert.False(File.Exists(temp.File("b.png")));
    }
}
