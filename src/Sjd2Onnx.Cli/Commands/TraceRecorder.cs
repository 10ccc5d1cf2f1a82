using System.Text.Json;
using System.Text.Json.Nodes;
using Sjd2Onnx.Decoding;
using Sjd2Onnx.Imaging;

namespace Sjd2Onnx.Cli.Commands;

/// <summary>
/// <c>generate --trace DIR</c>: records every pass's progress and writes, per image, a heat map of
/// the pass at which each token was committed (<c>commit-pass.png</c>), one preview per pass
/// (<c>pass-NNN.png</c>: committed codes plus the current drafts through the VQ decoder, drafts
/// darkened), all previews tiled (<c>passes.png</c>) and the numbers (<c>trace.json</c>).
/// </summary>
internal sealed class TraceRecorder(IProgress<DecodeProgress> inner) : IProgress<DecodeProgress>
{
    private readonly List<(int Pass, int Committed, int[] Codes)> _snapshots = [];

    public void Report(DecodeProgress value)
    {
        // The decoder reuses its arrays: copy them now.
        _snapshots.Add((value.Pass, value.CommittedSlots, (int[])(value.DraftCodes ?? value.Codes).Clone()));
        inner.Report(value);
    }

    /// <summary>Writes the trace files into <paramref name="dir"/> (created if needed).</summary>
    public void Write(string dir, Sjd2Pipeline pipeline, GenerationResult result)
    {
        try { Directory.CreateDirectory(dir); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new Sjd2Exception($"cannot create the --trace folder '{dir}': {e.Message}", e);
        }
        var m = pipeline.Manifest;
        var layout = new ImageLayout(m.Image, m.Sequence.EndOfLineId);
        int rows = m.Image.GridHeight, cols = m.Image.GridWidth;

        // Commit pass of each code: the first report whose committed count covers its slot.
        var commitPass = new int[m.Image.CodeCount];
        int previous = 0;
        foreach (var (pass, committed, _) in _snapshots)
        {
            for (int slot = previous; slot < committed; slot++)
                if (layout.CodeIndex(slot) is int c and >= 0) commitPass[c] = pass;
            previous = Math.Max(previous, committed);
        }
        int cell = Math.Max(8, 256 / Math.Max(rows, cols));
        PngFile.Save(HeatMap.Render(commitPass, rows, cols, cell), Path.Combine(dir, "commit-pass.png"));

        var previews = new List<RgbImage>();
        for (int i = 0; i < _snapshots.Count; i++)
        {
            var (pass, committed, codes) = _snapshots[i];
            var image = pipeline.DecodeImage(codes);
            Darken(image, layout, committed, rows, cols);
            PngFile.Save(image, Path.Combine(dir, $"pass-{pass:D3}.png"));
            previews.Add(image);
        }
        if (previews.Count > 0)
            PngFile.Save(ImageGrid.Tile(previews, (int)Math.Ceiling(Math.Sqrt(previews.Count))), Path.Combine(dir, "passes.png"));

        var grid = new JsonArray();
        for (int r = 0; r < rows; r++) grid.Add(new JsonArray([.. commitPass.Skip(r * cols).Take(cols).Select(v => (JsonNode?)v)]));
        var json = new JsonObject
        {
            ["passes"] = result.Statistics.Passes,
            ["committed_per_pass"] = new JsonArray([.. result.Statistics.CommittedPerPass.Select(v => (JsonNode?)v)]),
            ["commit_pass"] = grid,
            ["codes"] = new JsonArray([.. result.Codes.Select(v => (JsonNode?)v)]),
        };
        OutputFile.WriteAllText(Path.Combine(dir, "trace.json"), json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n", "--trace");
    }

    // Halves the brightness of the pixel block of every code not committed yet (the VQ decoder
    // maps code (r, c) to about that block).
    private static void Darken(RgbImage image, ImageLayout layout, int committedSlots, int rows, int cols)
    {
        int bw = image.Width / cols, bh = image.Height / rows;
        for (int code = 0; code < rows * cols; code++)
        {
            if (layout.SlotOf(code) < committedSlots) continue;
            int r = code / cols, c = code % cols;
            for (int y = r * bh; y < (r + 1) * bh; y++)
                for (int x = c * bw; x < (c + 1) * bw; x++)
                    for (int k = 0; k < 3; k++) image.Pixels[(y * image.Width + x) * 3 + k] /= 2;
        }
    }
}
