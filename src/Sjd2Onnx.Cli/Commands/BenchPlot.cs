using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using ScottPlot;
using Sjd2Onnx.Cli.Fonts;
using Sjd2Onnx.Imaging;
using Sjd2Onnx.IO;

namespace Sjd2Onnx.Cli.Commands;

/// <summary>
/// <c>sjd2 bench --plot</c>: one marker per method, speed-up over AR against the bench's quality
/// score (ShapesEval accuracy; step compression where the model has no evaluator), drawn from the
/// bench's JSON, either a run's own or a saved one (<c>--from</c>).
/// </summary>
internal static class BenchPlot
{
    /// <summary>Width of the picture in pixels.</summary>
    public const int Width = 1000;

    /// <summary>Height of the picture in pixels.</summary>
    public const int Height = 560;

    // Open markers, one shape per decoding method, so that methods at the same point stay visible.
    private static readonly Dictionary<string, MarkerShape> Shapes = new()
    {
        ["ar"] = MarkerShape.OpenSquare,
        ["sjd"] = MarkerShape.OpenCircle,
        ["sjd++"] = MarkerShape.OpenDiamond,
        ["sjd2"] = MarkerShape.OpenTriangleUp,
        ["pac"] = MarkerShape.OpenTriangleDown,
    };

    /// <summary>Reads a bench report written by <c>sjd2 bench --json</c>.</summary>
    /// <exception cref="Sjd2Exception">The file cannot be read or is not a bench report.</exception>
    public static JsonObject Read(string path)
    {
        string text = InputFile.ReadAllText(path, InputFile.MaxTextBytes, "--from");
        try
        {
            return JsonNode.Parse(text) as JsonObject ?? throw new Sjd2Exception($"--from '{path}' is not a bench report (sjd2 bench --json FILE writes one).");
        }
        catch (JsonException e)
        {
            throw new Sjd2Exception($"--from '{path}' is not JSON: {e.Message.ReplaceLineEndings(" ")}", e);
        }
    }

    /// <summary>Draws <paramref name="bench"/> and writes the PNG to <paramref name="path"/> (checked, then replaced atomically).</summary>
    /// <exception cref="Sjd2Exception">The report lacks what the plot needs, or the file cannot be written.</exception>
    public static void Write(JsonObject bench, string path, string source)
    {
        byte[] png = Draw(bench, source);
        OutputFile.WriteAllBytes(path, png, "--plot");
    }

    /// <summary>The picture of <paramref name="bench"/> as PNG bytes, <see cref="Width"/> × <see cref="Height"/>.</summary>
    /// <exception cref="Sjd2Exception">The report has no methods with a speed-up (a bench without AR).</exception>
    public static byte[] Draw(JsonObject bench, string source)
    {
        var points = Points(bench, source);
        bool accuracy = points.All(p => p.Accuracy is not null);
        EmbeddedFonts.Register();

        var plot = new Plot();
        plot.Font.Set(EmbeddedFonts.Family);
        var palette = new ScottPlot.Palettes.Category10();
        var reference = plot.Add.VerticalLine(1);
        reference.LinePattern = LinePattern.Dashed;
        reference.Color = Colors.Gray;
        for (int i = 0; i < points.Count; i++)
        {
            var p = points[i];
            double y = accuracy ? 100 * p.Accuracy!.Value : p.StepCompression;
            var marker = plot.Add.Marker(p.Speedup, y, Shapes.GetValueOrDefault(p.Method, MarkerShape.OpenCircle), 14, palette.GetColor(i));
            marker.MarkerLineWidth = 2;
            marker.LegendText = p.Label;
        }

        string model = (string?)bench["model"] ?? "model";
        string evaluator = (string?)bench["evaluator_version"] ?? "ShapesEval";
        plot.Title(accuracy ? $"{model}: speed-up against {evaluator} accuracy" : $"{model}: speed-up against step compression (no quality score for this model)");
        plot.XLabel($"speed-up over AR (wall time){RunLine(bench)}");
        plot.YLabel(accuracy ? "accuracy (%)" : "step compression (AR passes / passes)");
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { LabelFormatter = v => v.ToString("0.##", CultureInfo.InvariantCulture) + "×" };
        if (accuracy)
        {
            plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { LabelFormatter = v => v > 100.001 ? "" : v.ToString("0.#", CultureInfo.InvariantCulture) + " %" };
            // Accuracies crowd near 100 %: a span of at least 5 points keeps one image's difference readable.
            double low = points.Min(p => 100 * p.Accuracy!.Value), high = points.Max(p => 100 * p.Accuracy!.Value);
            double pad = Math.Max(1, (high - low) * 0.15), bottom = Math.Min(low - pad, high - 5);
            plot.Axes.SetLimitsY(Math.Max(0, bottom), Math.Min(100, high) + pad);
        }
        double left = Math.Min(1, points.Min(p => p.Speedup)), right = Math.Max(1, points.Max(p => p.Speedup));
        double xPad = Math.Max(0.1, (right - left) * 0.08);
        plot.Axes.SetLimitsX(left - xPad, right + xPad);
        plot.ShowLegend(Edge.Right);
        return plot.GetImageBytes(Width, Height, ImageFormat.Png);
    }

    private sealed record Point(string Label, string Method, double Speedup, double StepCompression, double? Accuracy);

    private static List<Point> Points(JsonObject bench, string source)
    {
        if (bench["methods"] is not JsonObject methods || methods.Count == 0)
            throw new Sjd2Exception($"{source} has no methods to plot (sjd2 bench --json FILE writes a report that has).");
        var points = new List<Point>();
        foreach (var (label, node) in methods)
        {
            if (node is not JsonObject m) throw new Sjd2Exception($"{source}: method '{label}' is not an object.");
            double? speedup = Number(m["speedup"]);
            if (speedup is null)
                throw new Sjd2Exception($"{source}: method '{label}' has no speed-up; the plot needs ar among --methods (speed-ups are against AR).");
            points.Add(new Point(label, (string?)m["method"] ?? label, speedup.Value, Number(m["step_compression"]) ?? 1, Number(m["accuracy"])));
        }
        return points;
    }

    // A number however it was stored (a report read back holds JsonElements, a fresh one ints and doubles).
    private static double? Number(JsonNode? node) =>
        node is JsonValue v && v.GetValueKind() == JsonValueKind.Number
            && double.TryParse(v.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && double.IsFinite(d) ? d : null;

    // Which run: provider, cores and prompts × seeds, as the report states them.
    private static string RunLine(JsonObject bench)
    {
        var parts = new List<string>();
        if ((string?)bench["provider"] is { } provider) parts.Add(provider);
        if (Number(bench["cores"]) is { } cores) parts.Add(FormattableString.Invariant($"{cores} cores"));
        if (bench["prompts"] is JsonArray prompts && Number(bench["seeds"]) is { } seeds)
            parts.Add(FormattableString.Invariant($"{prompts.Count} prompts × {seeds} seeds"));
        return parts.Count == 0 ? "" : $" — {string.Join(", ", parts)}";
    }
}
