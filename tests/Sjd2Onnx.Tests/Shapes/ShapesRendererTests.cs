using System.Globalization;
using System.Text.Json;
using Sjd2Onnx.Evaluation;
using Xunit.Abstractions;

namespace Sjd2Onnx.Tests;

/// <summary>The C# renderer of the shapes world against the Python renderer's committed ground truth.</summary>
public sealed class ShapesRendererTests(ITestOutputHelper output)
{
    [Fact]
    public void RendererRedrawsTheCommittedGroundTruth()
    {
        var world = ShapesTestData.Evaluator.World;
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(ShapesTestData.DataDir, ShapesGroundTruth.LabelsFile)));
        double sumAbs = 0, worstImage = 0;
        long values = 0;
        int worstPixel = 0;
        foreach (var e in doc.RootElement.EnumerateArray())
        {
            var objects = e.GetProperty("shapes").EnumerateArray().Select(s => new ShapesSceneObject(
                s.GetProperty("color").GetString()!, s.GetProperty("kind").GetString()!,
                world.Sizes.First(z => z.Name == s.GetProperty("size").GetString()).Pixels,
                s.GetProperty("center")[0].GetDouble(), s.GetProperty("center")[1].GetDouble())).ToList();
            var bgRgb = e.GetProperty("background").EnumerateArray().Select(v => v.GetInt32()).ToArray();
            int background = world.Backgrounds.Select((b, i) => (b, i)).First(p => p.b.R == bgRgb[0]).i;
            var scene = new ShapesScene(new ShapesPrompt([], null, null), objects, background, e.GetProperty("texture").GetBoolean());
            var mine = ShapesRenderer.Render(world, scene);
            var theirs = ShapesGroundTruth.ReadPng(Path.Combine(ShapesTestData.DataDir, e.GetProperty("file").GetString()!));
            double imageAbs = 0;
            for (int i = 0; i < mine.Pixels.Length; i++)
            {
                int d = Math.Abs(mine.Pixels[i] - theirs.Pixels[i]);
                imageAbs += d;
                worstPixel = Math.Max(worstPixel, d);
            }
            sumAbs += imageAbs;
            values += mine.Pixels.Length;
            worstImage = Math.Max(worstImage, imageAbs / mine.Pixels.Length);
        }
        double mean = sumAbs / values;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"mean |diff| {mean:F3} levels, worst image {worstImage:F3}, worst value {worstPixel}"));
        // PIL's rasteriser and this one disagree on a few subsamples along edges; the shapes and
        // backgrounds themselves must be the same.
        Assert.True(mean < 0.2, $"mean difference {mean:F3} levels");
        Assert.True(worstImage < 0.6, $"worst image differs by {worstImage:F3} levels on average");
    }
}
