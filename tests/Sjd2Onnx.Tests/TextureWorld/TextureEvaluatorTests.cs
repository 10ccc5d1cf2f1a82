using Sjd2Onnx.Evaluation;
using Sjd2Onnx.Imaging;

namespace Sjd2Onnx.Tests;

/// <summary>TextureEval's rules on hand-made images, its prompt grammar and its Python rounding.</summary>
public sealed class TextureEvaluatorTests
{
    // A flat disc of one colour on a neutral background, centred in the image.
    private static RgbImage Disc(byte r, byte g, byte b, double radius = 11, byte grey = 180)
    {
        const int n = 64;
        var pixels = new byte[n * n * 3];
        for (int y = 0; y < n; y++)
            for (int x = 0; x < n; x++)
            {
                bool inside = Math.Pow(x + 0.5 - 32, 2) + Math.Pow(y + 0.5 - 32, 2) <= radius * radius;
                int i = (y * n + x) * 3;
                (pixels[i], pixels[i + 1], pixels[i + 2]) = inside ? (r, g, b) : (grey, grey, grey);
            }
        return new RgbImage(n, n, pixels);
    }

    [Fact]
    public void AFlatDiscOfThePromptsColourIsAccepted()
    {
        var score = TextureTestData.Evaluator.Score("a big red circle in the center", Disc(220, 30, 30));
        Assert.True(score.Overall, score.Failures);
        Assert.Null(score.Attributes["relation"]);
        Assert.Equal(1, score.ObjectsFound);
    }

    [Fact]
    public void ColourIsJudgedByHueSoShadedAndLightenedObjectsKeepTheirColour()
    {
        var evaluator = TextureTestData.Evaluator;
        // red at 40 % brightness and red blended 35 % towards white: far from the palette RGB, same hue
        Assert.True(evaluator.Score("a red circle in the center", Disc(88, 12, 12)).Attributes["color"]);
        Assert.True(evaluator.Score("a red circle in the center", Disc(232, 109, 109)).Attributes["color"]);
        // the same disc in another hue fails colour (and with it shape and size)
        var blue = evaluator.Score("a red circle in the center", Disc(30, 70, 220));
        Assert.False(blue.Attributes["color"]);
        Assert.False(blue.Overall);
        // too grey (saturation below 0.3) is background: no object at all
        var grey = evaluator.Score("a red circle in the center", Disc(200, 150, 150));
        Assert.Equal(0, grey.ObjectsFound);
        Assert.False(grey.Attributes["count"]);
    }

    [Fact]
    public void SizeAndRegionFollowTheWorldsThresholds()
    {
        var evaluator = TextureTestData.Evaluator;
        Assert.True(evaluator.Score("a small blue circle in the center", Disc(30, 70, 220, radius: 6)).Overall);
        Assert.False(evaluator.Score("a big blue circle in the center", Disc(30, 70, 220, radius: 6)).Attributes["size"]);
        Assert.False(evaluator.Score("a blue circle on the left", Disc(30, 70, 220)).Attributes["position"]);
    }

    [Fact]
    public void ParseReadsTriplesTexturesAndBackgrounds()
    {
        var world = TextureTestData.Evaluator.World;
        var p = TexturePrompt.Parse(world, "a large red striped circle above a blue square and a small green triangle in the top left corner , cloudy background");
        Assert.NotNull(p);
        Assert.Equal(new TextureObject("big", "red", "striped", "circle"), p!.Objects[0]);
        Assert.Equal(new TextureObject(null, "blue", null, "square"), p.Objects[1]);
        Assert.Equal("above", p.Relation);
        Assert.Equal("top left", p.ThirdPosition);
        Assert.Null(p.Position);
        Assert.Equal("cloudy", p.Background);
        Assert.Equal("left of", TexturePrompt.Parse(world, "a red circle to the left of a blue square")!.Relation);
        Assert.Null(TexturePrompt.Parse(world, "a red circle"));
        Assert.Null(TexturePrompt.Parse(world, "a red circle above a blue square and a green triangle"));
        Assert.Throws<Sjd2Exception>(() => TextureTestData.Evaluator.Score("a red circle", Disc(220, 30, 30)));
    }

    [Fact]
    public void DrawnPromptsAreInTheGrammarAndHeldOutOnesHaveAHeldOutPair()
    {
        var evaluator = TextureTestData.Evaluator;
        var training = evaluator.DrawPrompts(300, 7, heldOut: false);
        Assert.Equal(training, evaluator.DrawPrompts(300, 7, heldOut: false));
        foreach (var prompt in training)
        {
            var p = evaluator.Parse(prompt);
            Assert.True(p is not null, $"'{prompt}' does not parse");
            Assert.DoesNotContain(p!.Objects, o => evaluator.World.IsHeldOut(o.Color, o.Kind));
            Assert.Equal(p.Objects.Count, p.Objects.Select(o => o.Color).Distinct().Count());
        }
        Assert.Equal([1, 2, 3], training.Select(t => evaluator.Parse(t)!.Objects.Count).Distinct().Order());
        foreach (var prompt in evaluator.DrawPrompts(100, 7, heldOut: true))
            Assert.Contains(evaluator.Parse(prompt)!.Objects, o => evaluator.World.IsHeldOut(o.Color, o.Kind));
    }

    [Theory]
    [InlineData(0.7995, false)]                 // the double nearest 0.7995 lies below it: Python rounds to 0.799
    [InlineData(0.7995000000000001, true)]      // the next double rounds to 0.8
    [InlineData(0.8, true)]
    [InlineData(0.79, false)]
    [InlineData(1.0, true)]
    public void IouThresholdRoundsAsPython(double iou, bool atLeast) =>
        Assert.Equal(atLeast, PythonFloat.Round3AtLeast(iou, 800));

    [Fact]
    public void PythonFloatHelpersMatchPythonOnNegativeOperands()
    {
        Assert.Equal(-1.0, PythonFloat.FloorDiv(-0.5 * 3, 64));
        Assert.Equal(2.0, PythonFloat.FloorDiv(63.5 * 3, 64));
        Assert.Equal(0.75, PythonFloat.Mod(-0.25, 1.0));
        // a tie at three decimals goes to the even neighbour: round(0.8125, 3) == 0.812, round(0.0625, 3) == 0.062
        Assert.False(PythonFloat.Round3AtLeast(0.8125, 813));
        Assert.True(PythonFloat.Round3AtLeast(0.0625, 62));
        Assert.False(PythonFloat.Round3AtLeast(0.0625, 63));
    }
}
