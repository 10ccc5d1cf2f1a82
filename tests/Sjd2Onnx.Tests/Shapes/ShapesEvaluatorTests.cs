using System.Globalization;
using Sjd2Onnx.Evaluation;
using Sjd2Onnx.Imaging;
using Xunit.Abstractions;

namespace Sjd2Onnx.Tests;

/// <summary>The shapes evaluator on rendered ground truth: own captions accepted, wrong ones rejected.</summary>
public sealed class ShapesEvaluatorTests(ITestOutputHelper output)
{
    private static ShapesEvaluator Evaluator => ShapesTestData.Evaluator;
    private static ShapesGroundTruth GroundTruth => ShapesTestData.GroundTruth;

    [Fact]
    public void GroundTruthImagesAgreeWithTheirOwnCaptions()
    {
        var report = ShapesTestData.Report;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"agreement {report.Agreed}/{report.Images} = {report.Agreement:P1}; with full labels {report.AgreedFullLabels}/{report.Images}"));
        foreach (var (file, prompt, failures) in report.Disagreements) output.WriteLine($"  {file} \"{prompt}\": {failures}");
        Assert.True(report.Images >= 100, $"only {report.Images} ground-truth images");
        Assert.True(report.Agreement >= 0.98, $"agreement {report.Agreement:P1} < 98%: " +
            string.Join("; ", report.Disagreements.Take(5).Select(d => $"{d.File} \"{d.Prompt}\": {d.Failures}")));
        Assert.True(report.AgreedFullLabels >= 0.98 * report.Images, $"full-label agreement {report.AgreedFullLabels}/{report.Images} < 98%");
    }

    [Fact]
    public void MismatchedCaptionsAreRejected()
    {
        var report = ShapesTestData.Report;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"rejection {report.RejectionRate:P1}"));
        foreach (var (kind, (rejected, total)) in report.Mismatches) output.WriteLine($"  {kind}: {rejected}/{total}");
        foreach (var (file, kind, prompt) in report.Accepted) output.WriteLine($"  accepted {kind} {file}: \"{prompt}\"");
        Assert.Equal(["color", "count", "position", "relation", "shape", "size"], report.Mismatches.Keys.Order());
        Assert.True(report.RejectionRate >= 0.98, $"only {report.RejectionRate:P1} of wrong captions rejected");
        foreach (var (kind, (rejected, total)) in report.Mismatches)
            Assert.True(rejected >= 0.95 * total, $"{kind}: only {rejected}/{total} wrong captions rejected");
    }

    [Fact]
    public void CaptionsParseToTheirLabels()
    {
        foreach (var c in GroundTruth.Cases)
        {
            var parsed = Evaluator.Parse(c.Prompt);
            Assert.NotNull(parsed);
            Assert.Equal(c.Truth.Position, parsed.Position);
            Assert.Equal(c.Truth.Relation, parsed.Relation);
            Assert.Equal(c.Truth.Objects.Count, parsed.Objects.Count);
            for (int i = 0; i < parsed.Objects.Count; i++)
            {
                var (p, t) = (parsed.Objects[i], c.Truth.Objects[i]);
                Assert.Equal((t.Color, t.Kind), (p.Color, p.Kind));
                Assert.True(p.Size is null || p.Size == t.Size, $"{c.File}: size {p.Size} vs {t.Size}");
            }
        }
    }

    [Fact]
    public void ParserFollowsTheGrammar()
    {
        var p = Evaluator.Parse("A Big RED Circle on the left.");
        Assert.Equal(new ShapesPrompt([new ShapesObject("big", "red", "circle")], "left", null), p, new PromptComparer());
        p = Evaluator.Parse("little blue triangle to the left of a green square")!;
        Assert.Equal("left of", p.Relation);
        Assert.Equal(new ShapesObject("small", "blue", "triangle"), p.Objects[0]);
        Assert.Equal(new ShapesObject(null, "green", "square"), p.Objects[1]);
        Assert.Equal("center", Evaluator.Parse("in the middle , a yellow square")!.Position);
        Assert.Equal("below", Evaluator.Parse("a red circle is under a blue square")!.Relation);
        Assert.Null(Evaluator.Parse("a big pink circle"));
        Assert.Null(Evaluator.Parse("a red circle"));                                   // no position
        Assert.Null(Evaluator.Parse("a red circle and a blue square"));                 // no relation
        Assert.Null(Evaluator.Parse("a red circle above a blue square above a green triangle"));
        Assert.Throws<Sjd2Exception>(() => Evaluator.Score("a small red hexagon!", Blank(64)));
    }

    [Fact]
    public void DrawnPromptsFollowTheGrammarAndTheHeldOutSplit()
    {
        var world = Evaluator.World;
        var train = Evaluator.DrawPrompts(500, 7, heldOut: false);
        var held = Evaluator.DrawPrompts(500, 7, heldOut: true);
        Assert.Equal(train, Evaluator.DrawPrompts(500, 7, heldOut: false));
        Assert.NotEqual(train, Evaluator.DrawPrompts(500, 8, heldOut: false));
        Assert.Equal(500, train.Count);
        foreach (var prompt in train)
        {
            var p = Evaluator.Parse(prompt);
            Assert.NotNull(p);
            Assert.DoesNotContain(p.Objects, o => world.IsHeldOut(o.Color, o.Kind));
            if (p.Objects.Count == 2) Assert.NotEqual((p.Objects[0].Color, p.Objects[0].Kind), (p.Objects[1].Color, p.Objects[1].Kind));
        }
        foreach (var prompt in held)
        {
            var p = Evaluator.Parse(prompt);
            Assert.NotNull(p);
            Assert.Contains(p.Objects, o => world.IsHeldOut(o.Color, o.Kind));
            if (p.Objects.Count == 2) Assert.NotEqual((p.Objects[0].Color, p.Objects[0].Kind), (p.Objects[1].Color, p.Objects[1].Kind));
        }
        // every template, relation, position, colour and size shows up; sizes are sometimes left out
        var all = train.Concat(held).ToList();
        Assert.All(world.HeldOut, h => Assert.Contains(held, s => s.Contains($"{h.Color} {h.Kind}")));
        Assert.All(world.Colors, c => Assert.Contains(all, s => s.Contains(c.Name)));
        Assert.All(world.Relations.SelectMany(r => r.Phrases), ph => Assert.Contains(all, s => s.Contains($" {ph} ")));
        Assert.All(world.Positions.SelectMany(r => r.Phrases), ph => Assert.Contains(all, s => s.Contains(ph)));
        int pairs = train.Count(s => Evaluator.Parse(s)!.Relation is not null);
        Assert.InRange(pairs, 150, 350);
        int omitted = train.Sum(s => Evaluator.Parse(s)!.Objects.Count(o => o.Size is null));
        Assert.InRange(omitted, 40, 200);
    }

    [Fact]
    public void BlankImageHasNoShapes()
    {
        var score = Evaluator.Score("a red circle on the left", Blank(64));
        Assert.False(score.Overall);
        Assert.Empty(score.Detected);
        Assert.False(score.Attributes["count"]);
        Assert.Equal(["count", "color", "shape", "size", "position"], score.Attributes.Keys);
    }

    [Fact]
    public void ShapesAreFoundAndBlobsOfNoKindAreNot()
    {
        // a red 24-px square at the left and a blue 2x30 bar at the right, on the plain background
        var img = Blank(64);
        Paint(img, 4, 20, 24, 24, (220, 30, 30));
        Paint(img, 46, 17, 2, 30, (30, 70, 220));
        var found = Evaluator.Detect(img);
        Assert.Equal(2, found.Count);
        var square = found[0];
        Assert.Equal(("red", "square", "big"), (square.Color, square.Kind, square.Size));
        Assert.Equal(16, square.X, 0.01);
        Assert.Equal(32, square.Y, 0.01);
        Assert.Null(found[1].Kind);
        var score = Evaluator.Score("a big red square left of a blue square", img);
        Assert.False(score.Attributes["shape"]);
        Assert.True(score.Attributes["color"] && score.Attributes["relation"] && score.Attributes["count"]);
        Assert.True(Evaluator.Score("a large red square on the left", Paint(Blank(64), 4, 20, 24, 24, (220, 30, 30))).Overall);
    }

    [Fact]
    public void ScoringSurvivesNoiseSpecklesAndScaling()
    {
        // reconstruction-like artefacts: per-pixel noise, a few stray blobs of colour, 2x upscaling
        var rng = new Random(5);
        int agreed = 0, n = 0;
        foreach (var c in GroundTruth.Cases.Where((_, i) => i % 2 == 0))
        {
            var px = (byte[])c.Image.Pixels.Clone();
            for (int i = 0; i < px.Length; i++) px[i] = (byte)Math.Clamp(px[i] + rng.Next(-12, 13), 0, 255);
            for (int s = 0; s < 3; s++)
            {
                int x = rng.Next(2, 60), y = rng.Next(2, 60);
                for (int dy = 0; dy < 2; dy++)
                    for (int dx = 0; dx < 2; dx++)
                    {
                        int o = ((y + dy) * 64 + x + dx) * 3;
                        (px[o], px[o + 1], px[o + 2]) = ((byte)rng.Next(256), (byte)rng.Next(256), (byte)rng.Next(256));
                    }
            }
            var noisy = new RgbImage(64, 64, px);
            if (Evaluator.Score(c.Prompt, noisy).Overall) agreed++;
            if (Evaluator.Score(c.Prompt, Upscale(c.Image, 2)).Overall) agreed++;
            n += 2;
        }
        output.WriteLine($"noisy/upscaled agreement {agreed}/{n}");
        Assert.True(agreed >= 0.95 * n, $"noisy/upscaled agreement {agreed}/{n} < 95%");
    }

    private static RgbImage Blank(int size)
    {
        var px = new byte[size * size * 3];
        Array.Fill(px, (byte)232);
        return new RgbImage(size, size, px);
    }

    private static RgbImage Paint(RgbImage img, int x0, int y0, int w, int h, (byte R, byte G, byte B) c)
    {
        for (int y = y0; y < y0 + h; y++)
            for (int x = x0; x < x0 + w; x++)
                (img.Pixels[(y * img.Width + x) * 3], img.Pixels[(y * img.Width + x) * 3 + 1], img.Pixels[(y * img.Width + x) * 3 + 2]) = c;
        return img;
    }

    private static RgbImage Upscale(RgbImage img, int f)
    {
        var px = new byte[img.Width * f * img.Height * f * 3];
        for (int y = 0; y < img.Height * f; y++)
            for (int x = 0; x < img.Width * f; x++)
                for (int ch = 0; ch < 3; ch++)
                    px[(y * img.Width * f + x) * 3 + ch] = img.Pixels[((y / f) * img.Width + x / f) * 3 + ch];
        return new RgbImage(img.Width * f, img.Height * f, px);
    }

    private sealed class PromptComparer : IEqualityComparer<ShapesPrompt?>
    {
        public bool Equals(ShapesPrompt? a, ShapesPrompt? b) =>
            a is not null && b is not null && a.Position == b.Position && a.Relation == b.Relation && a.Objects.SequenceEqual(b.Objects);
        public int GetHashCode(ShapesPrompt? p) => 0;
    }
}
