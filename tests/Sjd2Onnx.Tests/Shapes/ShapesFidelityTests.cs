using System.Globalization;
using System.Text.Json;
using Sjd2Onnx.Evaluation;
using Sjd2Onnx.Sampling;
using Xunit.Abstractions;

namespace Sjd2Onnx.Tests;

/// <summary>The fidelity metric: the world against itself is near zero, a collapsed world is far from it.</summary>
public sealed class ShapesFidelityTests(ITestOutputHelper output)
{
    private static ShapesEvaluator Evaluator => ShapesTestData.Evaluator;

    [Fact]
    public void DistancesOfKnownSamples()
    {
        Assert.Equal(1.0, ShapesFidelity.W1([0, 0], [1, 1])!.Value, 9);
        Assert.Equal(0.0, ShapesFidelity.W1([3, 1, 2], [1, 2, 3])!.Value, 9);
        Assert.Equal(2.0, ShapesFidelity.W1([0, 1, 2, 3], [2, 3, 4, 5])!.Value, 9);
        Assert.Null(ShapesFidelity.W1([], [1]));
        Assert.Equal(0.5, ShapesFidelity.Tv([0, 1], [1, 1])!.Value, 9);
        Assert.Equal(1.0, ShapesFidelity.Tv([0, 0], [2])!.Value, 9);
        Assert.Equal(0.0, ShapesFidelity.Tv([0, 1, 2], [2, 1, 0])!.Value, 9);
    }

    [Fact]
    public void BackgroundShadeAndTextureAreReadFromTheGroundTruth()
    {
        var world = Evaluator.World;
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(ShapesTestData.DataDir, ShapesGroundTruth.LabelsFile)));
        int right = 0, n = 0;
        foreach (var e in doc.RootElement.EnumerateArray())
        {
            var image = ShapesGroundTruth.ReadPng(Path.Combine(ShapesTestData.DataDir, e.GetProperty("file").GetString()!));
            var bg = Evaluator.MeasureBackground(image);
            int level = e.GetProperty("background")[0].GetInt32();
            bool shade = world.Backgrounds[bg.Shade].R == level;
            if (shade && bg.Textured == e.GetProperty("texture").GetBoolean()) right++;
            n++;
        }
        Assert.Equal(n, right);
    }

    [Fact]
    public void TheWorldAgainstItselfIsNearZeroAndACollapsedWorldIsFar()
    {
        var prompts = Evaluator.DrawPrompts(200, 3, heldOut: false).Select(p => Evaluator.Parse(p)!).ToList();
        var reference = ShapesFidelity.Reference(Evaluator, prompts);
        Assert.Equal(prompts.Count * ShapesFidelity.ReferenceScenesPerPrompt, reference.Count);
        var floor = ShapesFidelity.NoiseFloor(Evaluator, prompts, reference);
        var again = ShapesFidelity.Compare(Evaluator.World, ShapesFidelity.WorldSample(Evaluator, prompts, 7), reference);
        var collapsed = ShapesFidelity.Compare(Evaluator.World, Collapsed(prompts), reference);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"floor {floor.Score:F3}, again {again.Score:F3}, collapsed {collapsed.Score:F3}"));
        foreach (var a in ShapesFidelity.AttributeNames)
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {a}: floor {floor.Distances[a]:F3}, collapsed {collapsed.Distances.GetValueOrDefault(a):F3}"));
        Assert.Equal(ShapesFidelity.AttributeNames, floor.Distances.Keys);
        Assert.InRange(floor.Score, 0.001, 0.08);
        Assert.InRange(again.Score, 0.001, 0.08);
        // always big, one end of the jitter, the pair shifted to one end, one plain shade
        Assert.True(collapsed.Score > 0.4, $"collapsed score {collapsed.Score:F3}");
        foreach (var a in new[] { "size", "jitter", "pair_shift", "shade", "texture" })
            Assert.True(collapsed.Distances[a] > 3 * floor.Distances[a] + 0.1, $"{a}: {collapsed.Distances[a]:F3} vs floor {floor.Distances[a]:F3}");
        Assert.True(collapsed.Distances["count"] <= 0.05); // the collapsed scenes still have the right shapes
    }

    /// <summary>Scenes with every free attribute pinned: big, jitter and shift at their low end, the first shade, no texture.</summary>
    private static List<ShapesSceneMeasure> Collapsed(IReadOnlyList<ShapesPrompt> prompts)
    {
        var world = Evaluator.World;
        var rng = new SeededRandom(11);
        var measures = new List<ShapesSceneMeasure>();
        string big = world.Sizes.MaxBy(s => s.Pixels).Name;
        foreach (var p in prompts)
        {
            var pinned = p with { Objects = [.. p.Objects.Select(o => o with { Size = o.Size ?? big })] };
            var scene = ShapesRenderer.Sample(world, pinned, rng);
            var objects = scene.Objects.Select((o, i) => p.Relation is null ? Jittered(world, p, o) : Shifted(world, p, o, i)).ToList();
            var image = ShapesRenderer.Render(world, scene with { Objects = objects, Background = 0, Textured = false });
            measures.Add(ShapesFidelity.Measure(Evaluator, p, image));
        }
        return measures;
    }

    private static ShapesSceneObject Jittered(ShapesWorld world, ShapesPrompt p, ShapesSceneObject o)
    {
        var pos = world.Positions.First(q => q.Name == p.Position);
        return o with { X = pos.X - world.PositionJitter, Y = pos.Y - world.PositionJitter };
    }

    private static ShapesSceneObject Shifted(ShapesWorld world, ShapesPrompt p, ShapesSceneObject o, int index)
    {
        double shift = -world.RelationShift;
        var rel = world.Relations.First(r => r.Name == p.Relation);
        var c = index == 0 ? rel.First : rel.Second;
        bool vertical = rel.First.X == rel.Second.X;
        return o with { X = c.X + (vertical ? shift : 0), Y = c.Y + (vertical ? 0 : shift) };
    }
}
