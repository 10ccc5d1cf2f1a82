using System.Buffers.Binary;
using Sjd2Onnx.Model;
using Sjd2Onnx.Tests.Support;

namespace Sjd2Onnx.Tests;

/// <summary>The sjd2 command end to end on the committed test models.</summary>
public class CliSmokeTests
{
    private static readonly byte[] PngSignature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    [Theory]
    [InlineData("tiny")]
    [InlineData("tiny-eol")]
    public void GenerateWritesAValidPng(string model)
    {
        using var temp = new TempDir();
        string dir = TestPaths.Model(model);
        var manifest = ManifestReader.Load(dir);
        string output = temp.File("image.png");
        var r = Sjd2Cli.Run("generate", "a red circle above a blue square", "--out", output, "--model", dir, "--seed", "5");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("", r.Stderr);
        Assert.Contains("image.png", r.Stdout);
        var (width, height) = ReadPngSize(output);
        Assert.Equal(manifest.Image.Width, width);
        Assert.Equal(manifest.Image.Height, height);
        // Only the image: no temporary files left beside it.
        Assert.Equal([output], Directory.GetFiles(temp.Path));
    }

    [Fact]
    public void GenerateIsReproducibleAndCountNumbersTheFiles()
    {
        using var temp = new TempDir();
        string dir = TestPaths.Model("tiny");
        string single = temp.File("one.png");
        Assert.Equal(0, Sjd2Cli.Run("generate", "a star", "--out", single, "--model", dir, "--seed", "10", "--quiet").ExitCode);
        string many = temp.File("many.png");
        var r = Sjd2Cli.Run("generate", "a star", "--out", many, "--model", dir, "--seed", "9", "--count", "2", "--quiet", "--top-k", "20", "--top-p", "0.9", "--cfg", "2", "--temperature", "0.8");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("", r.Stdout); // --quiet
        string first = temp.File("many-1.png"), second = temp.File("many-2.png");
        ReadPngSize(first);
        ReadPngSize(second);
        Assert.False(File.Exists(many));
        Assert.NotEqual(ImageData(first), ImageData(second)); // seeds 9 and 10 (the pixels, not only the seed in the metadata)
        // Repeating a run gives the same bytes.
        string again = temp.File("again.png");
        Assert.Equal(0, Sjd2Cli.Run("generate", "a star", "--out", again, "--model", dir, "--seed", "10", "--quiet").ExitCode);
        Assert.Equal(File.ReadAllBytes(single), File.ReadAllBytes(again));
    }

    [Fact]
    public void InfoPrintsTheModel()
    {
        string dir = TestPaths.Model("tiny-eol");
        var manifest = ManifestReader.Load(dir);
        var r = Sjd2Cli.Run("info", "--model", dir);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains(manifest.Name, r.Stdout);
        Assert.Contains("tiny-eol", r.Stdout);
        Assert.Contains("end-of-line", r.Stdout);
        Assert.Contains("image codes from a table", r.Stdout);
        Assert.Contains("CPUExecutionProvider", r.Stdout);
        Assert.Contains("contract 2", r.Stdout);
        Assert.Contains("tree attention (pac verifies draft trees)", r.Stdout);
    }

    [Fact]
    public void InfoSaysWhenAModelIsALegacyExport()
    {
        // The tiny janus-pro is exported with --contract 1 --no-window-mask.
        var r = Sjd2Cli.Run("info", "--model", TestPaths.Model(Path.Combine("families", "janus-pro")));
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("contract 1", r.Stdout);
        Assert.Contains("no tree attention", r.Stdout);
    }

    [Fact]
    public void HelpExitsCleanly()
    {
        var r = Sjd2Cli.Run("help");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("generate <prompt>", r.Stdout);
        Assert.Equal("", r.Stderr);
        // No arguments at all: the overview and the usage-error exit code.
        Assert.Equal(2, Sjd2Cli.Run().ExitCode);
    }

    /// <summary>The IDAT chunks' bytes: the compressed pixels without the text chunks.</summary>
    private static byte[] ImageData(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        var data = new List<byte>();
        for (int at = 8; at + 12 <= bytes.Length;)
        {
            int length = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(at));
            if (System.Text.Encoding.ASCII.GetString(bytes, at + 4, 4) == "IDAT") data.AddRange(bytes.AsSpan(at + 8, length).ToArray());
            at += 12 + length;
        }
        Assert.NotEmpty(data);
        return [.. data];
    }

    /// <summary>Checks the PNG signature and the IHDR chunk; returns width and height.</summary>
    private static (int Width, int Height) ReadPngSize(string path)
    {
        Assert.True(File.Exists(path), $"{path} was not written");
        byte[] bytes = File.ReadAllBytes(path);
        Assert.True(bytes.Length > 33, $"{path} is only {bytes.Length} bytes");
        Assert.Equal(PngSignature, bytes[..8]);
        Assert.Equal(13, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(8)));
        Assert.Equal("IHDR", System.Text.Encoding.ASCII.GetString(bytes, 12, 4));
        int width = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16));
        int height = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20));
        Assert.Equal(8, bytes[24]); // bit depth
        Assert.Equal(2, bytes[25]); // colour type RGB
        Assert.Equal("IEND", System.Text.Encoding.ASCII.GetString(bytes, bytes.Length - 8, 4));
        return (width, height);
    }
}
