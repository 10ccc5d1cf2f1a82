using System.CommandLine;
using Sjd2Onnx.Cli.Options;
using Sjd2Onnx.Imaging;

namespace Sjd2Onnx.Cli.Commands;

/// <summary><c>sjd2 generate "prompt" --out a.png</c>: prompt → image file(s).</summary>
internal sealed class GenerateCommand
{
    private const string StandardOutput = "-";

    private readonly Argument<string[]> _prompt = new("prompt")
    {
        Description = "What the image shows, in quotes. A prompt that starts with '-' goes after --.",
        Arity = ArgumentArity.ZeroOrMore, // exactly one, checked in the action for a clearer message
    };

    private readonly Option<string?> _out = new("--out", "-o")
    {
        Description = "PNG file to write (.png is added to a name without extension); - writes the PNG to standard output. With --count N: NAME-1.png … NAME-N.png.",
        HelpName = "FILE.png",
    };

    private readonly Option<int?> _count = new("--count")
    {
        Description = "Images to generate, with seeds seed, seed+1, … (default 1).",
        HelpName = "N",
        CustomParser = ValueParsers.Int("--count", 1, 10000),
    };

    private readonly Option<string?> _trace = new("--trace")
    {
        Description = "Folder for a commit-pass heat map and one preview per pass (committed codes + drafts).",
        HelpName = "DIR",
    };

    private readonly Option<ulong?> _seed = SharedOptions.Seed("Seed of the first image (default 0); the same seed gives the same PNG, byte for byte.");
    private readonly Option<bool> _quiet = SharedOptions.Quiet();
    private readonly ModelOptions _model = new();
    private readonly SamplingOptions _sampling = new();
    private readonly DecodingOptions _decoding = new();

    /// <summary>The <c>generate</c> command.</summary>
    public static Command Create() => new GenerateCommand().Build();

    private Command Build()
    {
        var command = new Command("generate", "Generate image(s) from a text prompt. Sampling options default to the model's manifest (sjd2 info shows them).");
        command.Arguments.Add(_prompt);
        command.Options.Add(_out);
        command.Options.Add(_seed);
        command.Options.Add(_count);
        _decoding.AddTo(command);
        _sampling.AddTo(command);
        command.Options.Add(_trace);
        _model.AddTo(command);
        command.Options.Add(_quiet);
        command.SetAction(RunAsync);
        return command;
    }

    private async Task<int> RunAsync(ParseResult parse, CancellationToken ct)
    {
        var prompts = parse.GetValue(_prompt) ?? [];
        if (prompts.Length != 1)
            throw new UsageException("generate takes one prompt in quotes, e.g. sjd2 generate \"a red circle\" --out a.png.");
        string prompt = prompts[0];
        string output = parse.GetValue(_out) ?? throw new UsageException("generate needs --out FILE.png.");
        int count = parse.GetValue(_count) ?? 1;
        ulong seed = parse.GetValue(_seed) ?? 0;
        bool quiet = parse.GetValue(_quiet);
        string? traceDir = parse.GetValue(_trace);
        SharedOptions.CheckSeedRange(seed, count);
        if (traceDir is not null) UsageException.FromEngine(() => OutputFile.CheckFolder(traceDir, "--trace"));
        bool toStdout = output == StandardOutput;
        if (toStdout && count != 1) throw new UsageException("--out - writes one PNG to standard output; with --count give a file name.");
        if (toStdout && !Console.IsOutputRedirected) throw new UsageException("--out - writes PNG bytes to standard output, which is a terminal; redirect it (> a.png) or give a file name.");
        var paths = toStdout ? [StandardOutput] : OutputPaths.Png(output, count, "--out");
        if (string.IsNullOrWhiteSpace(prompt))
            throw new UsageException("the prompt is empty; describe the image, e.g. \"a red circle above a blue square\".");
        var options = _decoding.Bind(parse, _sampling, new GenerationOptions());

        using var pipeline = _model.Open(parse);
        UsageException.FromEngine(() =>
        {
            options.Check(pipeline.Manifest);
            DecodingOptions.NoticeChainFallback(options, pipeline);
            pipeline.Tokenize(prompt); // prompt errors before any work
        });
        if (traceDir is not null) UsageException.FromEngine(() => TraceFolder.Prepare(traceDir)); // last check: it removes an earlier trace

        // With the PNG on standard output, the summary goes to standard error.
        var summary = toStdout ? Console.Error : Console.Out;
        bool progress = StatusLine.Enabled(quiet);
        for (int i = 0; i < count; i++)
        {
            var bar = new ProgressBar(count == 1 ? "generate" : $"image {i + 1}/{count}", progress);
            var trace = traceDir is null ? null : new TraceRecorder(bar);
            var result = await pipeline.GenerateAsync(prompt, options with { Seed = seed + (ulong)i }, trace ?? (IProgress<Decoding.DecodeProgress>)bar, ct);
            var metadata = PngMetadata.From(result); // prompt, seed, method, sampling and model in text chunks
            if (toStdout) StandardStreams.WriteStdout(stdout => PngFile.Write(result.Image, stdout, metadata));
            else PngFile.Save(result.Image, paths[i], metadata, "--out");
            trace?.Write(count == 1 ? traceDir! : Path.Combine(traceDir!, $"image-{i + 1}"), pipeline, result);
            var st = result.Statistics;
            if (!quiet)
                summary.WriteLine($"{(toStdout ? "<stdout>" : paths[i])}: {st.Passes} passes, {st.TotalTime.TotalMilliseconds:F0} ms, seed {seed + (ulong)i}");
        }
        return ExitCodes.Success;
    }
}
