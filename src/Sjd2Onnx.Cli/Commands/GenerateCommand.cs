using Sjd2Onnx.Imaging;

namespace Sjd2Onnx.Cli.Commands;

/// <summary><c>sjd2 generate "prompt" --out a.png</c>: prompt → image file(s).</summary>
internal static class GenerateCommand
{
    public static async Task<int> RunAsync(CommandLine cl, CancellationToken ct)
    {
        if (cl.Positionals.Count != 1)
            throw new UsageException("generate takes one prompt in quotes, e.g. sjd2 generate \"a red circle\" --out a.png.");
        string prompt = cl.Positionals[0];
        string output = cl.String("out") ?? throw new UsageException("generate needs --out FILE.png.");
        int count = cl.Int("count", 1, 10000) ?? 1;
        ulong seed = cl.ULong("seed") ?? 0;
        bool quiet = cl.Has("quiet");
        string? traceDir = cl.String("trace");
        var paths = Enumerable.Range(0, count).Select(i => count == 1 ? output : Numbered(output, i + 1)).ToList();
        foreach (var p in paths) PngFile.CheckWritable(p, "--out");
        if (string.IsNullOrWhiteSpace(prompt))
            throw new UsageException("the prompt is empty; describe the image, e.g. \"a red circle above a blue square\".");

        using var pipeline = CommonOptions.OpenModel(cl);
        var options = CommonOptions.ReadGeneration(cl, pipeline);
        cl.RejectUnknown("generate");
        pipeline.Tokenize(prompt); // prompt errors before any work
        if (traceDir is not null) TraceFolder.Prepare(traceDir);

        for (int i = 0; i < count; i++)
        {
            var bar = new ProgressBar(count == 1 ? "generate" : $"image {i + 1}/{count}", !quiet && !Console.IsErrorRedirected);
            var trace = traceDir is null ? null : new TraceRecorder(bar);
            var result = await pipeline.GenerateAsync(prompt, options with { Seed = seed + (ulong)i }, trace ?? (IProgress<Decoding.DecodeProgress>)bar, ct);
            PngFile.Save(result.Image, paths[i], "--out");
            trace?.Write(count == 1 ? traceDir! : Path.Combine(traceDir!, $"image-{i + 1}"), pipeline, result);
            var st = result.Statistics;
            if (!quiet)
                Console.WriteLine($"{paths[i]}: {st.Passes} passes, {st.TotalTime.TotalMilliseconds:F0} ms, seed {seed + (ulong)i}");
        }
        return 0;
    }

    private static string Numbered(string path, int n)
    {
        string dir = Path.GetDirectoryName(path) ?? "";
        string ext = Path.GetExtension(path);
        return Path.Combine(dir, $"{Path.GetFileNameWithoutExtension(path)}-{n}{(ext.Length > 0 ? ext : ".png")}");
    }
}
