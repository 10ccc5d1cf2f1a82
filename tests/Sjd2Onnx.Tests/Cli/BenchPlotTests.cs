using SkiaSharp;
using Sjd2Onnx.Tests.Support;

namespace Sjd2Onnx.Tests;

/// <summary><c>sjd2 bench --plot</c> and <c>--from</c>, through the CLI as a child process.</summary>
public sealed class BenchPlotTests : IDisposable
{
    private readonly TempDir _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void BenchPlot_DrawsAPictureOfTheDocumentedSizeAndRedrawsItFromTheReport()
    {
        string png = Path.Combine(_temp.Path, "bench.png"), json = Path.Combine(_temp.Path, "bench.json");
        var run = Sjd2Cli.Run("bench", "--model", TestPaths.Model("tiny"), "--methods", "ar,sjd,sjd2", "--prompts", "2", "--seeds", "1",
            "--warmup", "0", "--json", json, "--plot", png, "--quiet");
        Assert.True(run.ExitCode == 0, run.ToString());

        using (var bitmap = SKBitmap.Decode(png))
        {
            Assert.NotNull(bitmap);
            Assert.Equal((1000, 560), (bitmap.Width, bitmap.Height));
            // A drawn plot, not a blank canvas: many colours (markers, text, grid), mostly white background.
            var colours = new HashSet<uint>();
            for (int y = 0; y < bitmap.Height; y += 2)
                for (int x = 0; x < bitmap.Width; x += 2)
                    colours.Add((uint)bitmap.GetPixel(x, y));
            Assert.True(colours.Count > 20, $"only {colours.Count} colours in the plot");
        }

        // The same report redrawn later gives the same picture.
        string again = Path.Combine(_temp.Path, "again.png");
        var redraw = Sjd2Cli.Run("bench", "--plot", again, "--from", json);
        Assert.True(redraw.ExitCode == 0, redraw.ToString());
        Assert.Equal(File.ReadAllBytes(png), File.ReadAllBytes(again));
    }

    [Fact]
    public void BenchPlot_RefusesABadPathOrReportInOneLineAndLeavesNothingBehind()
    {
        string folder = Path.Combine(_temp.Path, "out");
        Directory.CreateDirectory(folder);
        string report = Path.Combine(folder, "report.json");
        File.WriteAllText(report, """{"model": "tiny", "methods": {"sjd": {"method": "sjd", "speedup": null}}}""");

        // A folder that does not exist: refused before the model is opened.
        var missing = Sjd2Cli.Run("bench", "--model", TestPaths.Model("tiny"), "--plot", Path.Combine(folder, "no-such-folder", "p.png"));
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("--plot", Assert.Single(missing.StderrLines));

        // A folder given as the file.
        var isFolder = Sjd2Cli.Run("bench", "--plot", folder, "--from", report);
        Assert.Equal(2, isFolder.ExitCode);
        Assert.Contains("is a folder", Assert.Single(isFolder.StderrLines));

        // A report without speed-ups (no AR): the picture is not written, nor any temporary file.
        string png = Path.Combine(folder, "p.png");
        var noAr = Sjd2Cli.Run("bench", "--plot", png, "--from", report);
        Assert.NotEqual(0, noAr.ExitCode);
        Assert.Contains("speed-up", Assert.Single(noAr.StderrLines));

        // Not JSON at all.
        string text = Path.Combine(folder, "notes.txt");
        File.WriteAllText(text, "not a report");
        var notJson = Sjd2Cli.Run("bench", "--plot", png, "--from", text);
        Assert.Equal(2, notJson.ExitCode);
        Assert.Contains("not JSON", Assert.Single(notJson.StderrLines));

        // --plot without ar among the methods, and --from without --plot.
        var withoutAr = Sjd2Cli.Run("bench", "--model", TestPaths.Model("tiny"), "--methods", "sjd", "--plot", png);
        Assert.Equal(2, withoutAr.ExitCode);
        Assert.Contains("ar", Assert.Single(withoutAr.StderrLines));
        var fromAlone = Sjd2Cli.Run("bench", "--from", report);
        Assert.Equal(2, fromAlone.ExitCode);
        Assert.Single(fromAlone.StderrLines);

        Assert.Equal(["notes.txt", "report.json"], Directory.GetFileSystemEntries(folder).Select(Path.GetFileName).Order());
    }
}
