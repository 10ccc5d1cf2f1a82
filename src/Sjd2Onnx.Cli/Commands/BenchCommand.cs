using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Sjd2Onnx.Cli.Options;
using Sjd2Onnx.Imaging;
using Sjd2Onnx.IO;

namespace Sjd2Onnx.Cli.Commands;

/// <summary>
/// <c>sjd2 bench</c>: the decoding methods on the same prompts and seeds, interleaved per
/// (prompt, seed) after a warm-up so that drifting machine load hits every method alike. Reports
/// per method the passes (NFE), step compression and latency speedup against AR, acceptance,
/// host share and, with an evaluator, ShapesEval accuracy; prints a table and writes JSON.
/// </summary>
internal sealed class BenchCommand
{
    private readonly Option<string?> _methods = new("--methods")
    {
        Description = "Comma-separated method specs (default ar,sjd,sjd++,sjd2); a spec may carry its own decoding options, e.g. sjd2:kv=exact:window=24.",
        HelpName = "SPEC,...",
    };

    private readonly Option<string?> _prompts = new("--prompts")
    {
        Description = "A count of prompts (from the world's grammar when the model has one: shapes or entropy world; else a built-in list; default 4) or a file with one prompt a line.",
        HelpName = "N|FILE",
    };

    private readonly Option<bool> _heldOut = SharedOptions.Switch("--held-out", "Draw held-out colour+shape prompts from the world's grammar.");

    private readonly Option<int?> _seeds = new("--seeds")
    {
        Description = "Seeds per prompt (default 2).",
        HelpName = "S",
        CustomParser = ValueParsers.Int("--seeds", 1, 100000),
    };

    private readonly Option<int?> _warmup = new("--warmup")
    {
        Description = "Warm-up rounds of every method before timing (default 2).",
        HelpName = "N",
        CustomParser = ValueParsers.Int("--warmup", 0, 100),
    };

    private readonly Option<bool> _passes = SharedOptions.Switch("--passes",
        "Instead of whole images: the cost of one transformer pass over window sizes 1–64 and cache lengths 16–256, with FLOPs, bytes and (given the peaks) the fraction of the roofline.");

    private readonly Option<float?> _peakGflops = new("--peak-gflops")
    {
        Description = "With --passes: this machine's peak fp32 GFLOP/s for the roofline column (default: measured here with ONNX Runtime's MatMul on every core).",
        HelpName = "GFLOPS",
        CustomParser = ValueParsers.Float("--peak-gflops"),
    };

    private readonly Option<float?> _peakGbps = new("--peak-gbps")
    {
        Description = "With --passes: this machine's memory bandwidth in GB/s for the roofline column (default: measured here, reading as many bytes as the transformer's weights on every core).",
        HelpName = "GBPS",
        CustomParser = ValueParsers.Float("--peak-gbps"),
    };

    private readonly Option<string?> _cacheLengths = new("--cache-lengths")
    {
        Description = "With --passes: the cache lengths to measure, comma-separated (default 16,64,128,256; lengths the model cannot hold with the widest window are left out).",
        HelpName = "LIST",
    };

    private readonly Option<int?> _repeats = new("--repeats")
    {
        Description = "With --passes: passes timed per window and cache length, after 3 untimed ones (default 30; fewer for models whose wide passes take seconds).",
        HelpName = "N",
        CustomParser = ValueParsers.Int("--repeats", 1, 10000),
    };

    private readonly Option<string?> _windows = new("--windows")
    {
        Description = "With --passes: the window sizes to measure, comma-separated (default 1,2,4,8,16,32,64; sizes above the image's slots are left out).",
        HelpName = "LIST",
    };

    private readonly Option<ulong?> _seed = SharedOptions.Seed("First seed (default 0); prompt seeds run seed … seed+S-1.");
    private readonly Option<string?> _json = SharedOptions.Json("Write the summary and every run as JSON.");
    private readonly Option<string?> _plot = new("--plot")
    {
        Description = "Draw speed-up against quality (ShapesEval accuracy) per method as a PNG; needs ar among the methods.",
        HelpName = "FILE.png",
    };

    private readonly Option<string?> _from = new("--from")
    {
        Description = "With --plot: redraw from a report that bench --json wrote, without running anything.",
        HelpName = "FILE.json",
    };

    private readonly Option<bool> _quiet = SharedOptions.Quiet();
    private readonly ModelOptions _model = new();
    private readonly SamplingOptions _sampling = new();
    private readonly DecodingOptions _decoding = new();

    /// <summary>The <c>bench</c> command.</summary>
    public static Command Create() => new BenchCommand().Build();

    private Command Build()
    {
        var command = new Command("bench",
            "The decoding methods on the same prompts and seeds, interleaved per (prompt, seed) after a warm-up: NFE, step compression, latency, speedup, accepted tokens per pass, host share and accuracy (ShapesEval for shapes models, TextureEval for entropy-world models). The decoding options apply to every method that uses them.");
        command.Options.Add(_methods);
        command.Options.Add(_prompts);
        command.Options.Add(_heldOut);
        command.Options.Add(_seeds);
        command.Options.Add(_seed);
        command.Options.Add(_warmup);
        command.Options.Add(_json);
        command.Options.Add(_plot);
        command.Options.Add(_from);
        command.Options.Add(_passes);
        command.Options.Add(_peakGflops);
        command.Options.Add(_peakGbps);
        command.Options.Add(_cacheLengths);
        command.Options.Add(_windows);
        command.Options.Add(_repeats);
        _decoding.AddTo(command, withMethod: false);
        _sampling.AddTo(command);
        _model.AddTo(command);
        command.Options.Add(_quiet);
        command.SetAction(RunAsync);
        return command;
    }

    private async Task<int> RunAsync(ParseResult parse, CancellationToken ct)
    {
        string methodList = parse.GetValue(_methods) ?? "ar,sjd,sjd++,sjd2";
        string promptArg = parse.GetValue(_prompts) ?? "4";
        int seeds = parse.GetValue(_seeds) ?? 2;
        ulong baseSeed = parse.GetValue(_seed) ?? 0;
        int warmup = parse.GetValue(_warmup) ?? 2;
        string? jsonPath = parse.GetValue(_json);
        bool quiet = parse.GetValue(_quiet);
        bool heldOut = parse.GetValue(_heldOut);
        SharedOptions.CheckSeedRange(baseSeed, seeds);
        if (jsonPath is not null) UsageException.FromEngine(() => OutputFile.Check(jsonPath, "--json"));
        string? plotPath = parse.GetValue(_plot), fromPath = parse.GetValue(_from);
        if (plotPath is not null) UsageException.FromEngine(() => OutputFile.Check(plotPath, "--plot"));
        if (fromPath is not null) return Redraw(fromPath, plotPath, quiet);
        if (plotPath is not null && parse.GetValue(_passes)) throw new UsageException("--plot draws a bench of methods; bench --passes makes none.");

        using var pipeline = _model.Open(parse);
        var sampling = _sampling.Apply(parse, new GenerationOptions());
        var resolved = UsageException.FromEngine(() => sampling.ResolveSampling(pipeline.Manifest.Sampling));
        if (parse.GetValue(_passes))
        {
            float? gflops = parse.GetValue(_peakGflops), gbps = parse.GetValue(_peakGbps);
            if ((gflops is null) != (gbps is null)) throw new UsageException("--peak-gflops and --peak-gbps go together (the roofline needs both).");
            if (gflops <= 0 || gbps <= 0) throw new UsageException("--peak-gflops and --peak-gbps must be positive.");
            // The rows a generation runs: two with guidance (conditional and unconditional), else one.
            int[]? lengths = PositiveList(parse.GetValue(_cacheLengths), "--cache-lengths", 0);
            int[]? windows = PositiveList(parse.GetValue(_windows), "--windows", 1);
            var curve = PassCurve.Run(pipeline, resolved.UsesGuidance ? 2 : 1, parse.GetValue(_repeats) ?? 30, gflops, gbps, lengths, windows);
            if (jsonPath is not null)
            {
                OutputFile.WriteAllText(jsonPath, curve.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n", "--json");
                if (!quiet) Console.WriteLine($"wrote {jsonPath}");
            }
            return ExitCodes.Success;
        }
        var global = _decoding.ValuesOf(parse);
        string provider = ModelOptions.ProviderName(pipeline.Provider); // where it ended up, after any --ep fallback

        var scorer = BenchScorer.Load(pipeline.ModelDirectory);
        var prompts = ReadPrompts(promptArg, scorer, baseSeed, heldOut);
        UsageException.FromEngine(() => { foreach (var p in prompts) pipeline.Tokenize(p); }); // prompt errors before any work

        var methods = new List<BenchMethod>();
        var skipped = new JsonObject();
        foreach (string spec in methodList.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var options = ParseSpec(spec, global, sampling);
            if (options.Method == DecodingMethod.Sjd2 && pipeline.Manifest.Sjd2 is null)
            {
                string why = $"model {pipeline.Manifest.Name} is not trained for SJD2";
                StatusLine.End();
                Console.Error.WriteLine($"bench: skipping {spec}: {why}.");
                skipped[spec] = why;
                continue;
            }
            if (options.Method != DecodingMethod.Ar) UsageException.FromEngine(() => options.ResolveDecoding(pipeline.Manifest)); // one-line errors now
            DecodingOptions.NoticeChainFallback(options, pipeline);
            if (methods.Any(m => m.Label == spec)) throw new UsageException($"--methods lists '{spec}' twice.");
            methods.Add(new BenchMethod(spec, options));
        }
        if (methods.Count == 0) throw new UsageException("bench has no method to run; pass e.g. --methods ar,sjd.");
        if (plotPath is not null && !methods.Any(m => m.Options.Method == DecodingMethod.Ar))
            throw new UsageException("--plot needs ar among --methods: speed-ups are against AR.");

        // Warm-up: sessions, allocators and --window auto's cost model settle before timing.
        for (int w = 0; w < warmup; w++)
            foreach (var m in methods)
                await pipeline.GenerateAsync(prompts[0], m.Options with { Seed = ulong.MaxValue - (ulong)w }, null, ct);

        bool progress = StatusLine.Enabled(quiet);
        int total = prompts.Count * seeds, done = 0;
        for (int pi = 0; pi < prompts.Count; pi++)
        {
            for (int si = 0; si < seeds; si++)
            {
                ulong seed = baseSeed + (ulong)si;
                // Rotate the order so no method always runs first (caches, turbo, a neighbour's load).
                for (int mi = 0; mi < methods.Count; mi++)
                {
                    var m = methods[(mi + done) % methods.Count];
                    var clock = Stopwatch.StartNew();
                    var result = await pipeline.GenerateAsync(prompts[pi], m.Options with { Seed = seed }, null, ct);
                    double ms = clock.Elapsed.TotalMilliseconds;
                    m.Runs.Add(new BenchRun(prompts[pi], seed, result.Statistics.Passes, ms, result.Statistics.MeanAcceptedPerPass,
                        result.Statistics.HostShare, scorer.Score(m.Label, prompts[pi], result.Image),
                        [.. result.Statistics.CommittedPerPass], [.. result.Statistics.FedPerPass], result.Statistics.TransferBytesPerPass,
                        result.Statistics.Passes == 0 ? 0 : result.Statistics.KvBytes / (double)result.Statistics.Passes,
                        TimeBreakdown.From(result.Statistics, ms), result.Statistics.Reseeds,
                        result.Statistics.Passes == 0 ? 0 : result.Statistics.ReadBackBytes / (double)result.Statistics.Passes));
                }
                done++;
                if (progress) StatusLine.Show($"bench {done}/{total} (prompt, seed) pairs");
            }
        }
        StatusLine.End();

        var ar = methods.FirstOrDefault(m => m.Options.Method == DecodingMethod.Ar);
        PrintTable(pipeline, provider, prompts.Count, seeds, methods, ar, scorer);
        if (jsonPath is not null || plotPath is not null)
        {
            var json = Json(pipeline, provider, prompts, seeds, baseSeed, warmup, methods, ar, skipped, scorer, heldOut);
            if (jsonPath is not null)
            {
                OutputFile.WriteAllText(jsonPath, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) + "\n", "--json");
                if (!quiet) Console.WriteLine($"wrote {jsonPath}");
            }
            if (plotPath is not null)
            {
                BenchPlot.Write(json, plotPath, "the bench");
                if (!quiet) Console.WriteLine($"wrote {plotPath}");
            }
        }
        return ExitCodes.Success;
    }

    /// <summary><c>bench --plot FILE --from REPORT</c>: the picture of a saved report; nothing runs.</summary>
    private static int Redraw(string fromPath, string? plotPath, bool quiet)
    {
        if (plotPath is null) throw new UsageException("--from redraws a saved report: give --plot FILE.png too.");
        var bench = UsageException.FromEngine(() => BenchPlot.Read(fromPath));
        BenchPlot.Write(bench, plotPath, $"--from '{fromPath}'");
        if (!quiet) Console.WriteLine($"wrote {plotPath}");
        return ExitCodes.Success;
    }

    /// <summary>
    /// A method spec: a name with optional per-method overrides of the decoding options,
    /// e.g. <c>sjd2:kv=exact:window=24</c> or <c>sjd++:reuse-threshold=0.2</c>.
    /// </summary>
    private static GenerationOptions ParseSpec(string spec, IReadOnlyList<KeyValuePair<string, string>> global, GenerationOptions sampling) =>
        DecodingOptions.ParseSpec(spec, global, sampling);

    private static List<string> ReadPrompts(string arg, BenchScorer scorer, ulong seed, bool heldOut)
    {
        if (int.TryParse(arg, NumberStyles.Integer, CultureInfo.InvariantCulture, out int count))
        {
            if (count < 1) throw new UsageException($"--prompts must be a positive count or a file, got {count}.");
            return [.. scorer.Prompts(count, seed, heldOut)];
        }
        if (!File.Exists(arg)) throw new UsageException($"--prompts '{arg}' is neither a count nor a file.");
        var lines = UsageException.FromEngine(() => InputFile.ReadAllLines(arg, InputFile.MaxTextBytes, "--prompts file")).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();
        if (lines.Count == 0) throw new UsageException($"prompt file '{arg}' has no prompts (one per line, # starts a comment).");
        return lines;
    }

    /// <summary>A comma-separated list of whole numbers of at least <paramref name="min"/>; null when the option is absent.</summary>
    private static int[]? PositiveList(string? list, string option, int min)
    {
        if (list is null) return null;
        int[] values = [.. list.Split(',', StringSplitOptions.TrimEntries).Select(x => int.TryParse(x, System.Globalization.CultureInfo.InvariantCulture, out int v) && v >= min ? v
            : throw new UsageException($"{option}: '{x}' is not a whole number of at least {min}."))];
        return values.Length > 0 ? values : throw new UsageException($"{option} needs at least one value.");
    }

    private static void PrintTable(Sjd2Pipeline pipeline, string provider, int prompts, int seeds, List<BenchMethod> methods, BenchMethod? ar, BenchScorer scorer)
    {
        var m = pipeline.Manifest;
        Console.WriteLine($"model {m.Name}: {m.Image.GridHeight}x{m.Image.GridWidth} codes, provider {provider}, {prompts} prompts x {seeds} seeds, {Environment.ProcessorCount} cores");
        string header = $"{"method",-28} {"images",6} {"nfe",7} {"step x",7} {"latency ms",11} {"speedup",8} {"acc/pass",9} {"1-tok",6} {"fed",5} {"host",6} {"accuracy",9} {"fidelity",9}";
        Console.WriteLine(header);
        Console.WriteLine(new string('-', header.Length));
        foreach (var r in methods)
        {
            Console.WriteLine($"{r.Label,-28} {r.Runs.Count,6} {r.Nfe,7:F1} {Fmt(r.StepCompression(ar), "F2"),7} {r.LatencyMs,11:F1} {Fmt(r.Speedup(ar), "F2"),8} {r.AcceptedPerPass,9:F2} {r.SingleTokenPassShare,6:P0} {r.FedPerPass,5:F1} {r.HostShare,6:P0} {Fmt(r.Accuracy, "P1"),9} {Fmt(scorer.Fidelity(r.Label)?.Fidelity.Score, "F3"),9}");
        }
        if (scorer.CanScore && methods.Count > 0 && scorer.Fidelity(methods[0].Label) is { } f)
            Console.WriteLine(FormattableString.Invariant($"accuracy: {scorer.Version}; fidelity: gap to the world's distribution of unstated attributes (0 = same; one world scene per prompt scores {f.Floor.Score:F3} here)"));
        else if (scorer.CanScore && methods.Count > 0)
            Console.WriteLine($"accuracy: {scorer.Version}");
        // SJD-PAC's key figure: how often a pass commits only one slot, and what the passes fed.
        string buckets = string.Join(" ", Enumerable.Range(0, BenchMethod.HistogramEdges.Length).Select(i => $"{BenchMethod.BucketLabel(i),6}"));
        Console.WriteLine();
        Console.WriteLine($"{"share of passes by slots committed",-40} {buckets}");
        foreach (var r in methods)
            Console.WriteLine($"{r.Label,-40} {string.Join(" ", r.CommittedHistogram.Select(v => $"{v,6:P0}"))}");
        Console.WriteLine($"{"share of passes by tokens fed",-40} {buckets}");
        foreach (var r in methods)
            Console.WriteLine($"{r.Label,-40} {string.Join(" ", r.FedHistogram.Select(v => $"{v,6:P0}"))}");
        // Where the wall time goes: the host components are what the engine itself can still shave.
        Console.WriteLine($"{"share of wall time",-40} {string.Join(" ", TimeBreakdown.Names.Select(n => $"{n,13}"))}");
        foreach (var r in methods)
            Console.WriteLine($"{r.Label,-40} {string.Join(" ", r.TimeShares.Select(v => $"{v,13:P1}"))}");
    }

    // Share i under the name of bucket or component i.
    private static JsonObject SharesJson(double[] shares, Func<int, string> name)
    {
        var o = new JsonObject();
        for (int i = 0; i < shares.Length; i++) o[name(i)] = shares[i];
        return o;
    }

    private static string Fmt(double? v, string format) => v is double d ? d.ToString(format, CultureInfo.InvariantCulture) : "-";

    private static JsonObject Json(Sjd2Pipeline pipeline, string provider, List<string> prompts, int seeds, ulong baseSeed, int warmup,
        List<BenchMethod> methods, BenchMethod? ar, JsonObject skipped, BenchScorer scorer, bool heldOut)
    {
        var summary = new JsonObject();
        var runs = new JsonArray();
        foreach (var r in methods)
        {
            summary[r.Label] = new JsonObject
            {
                ["method"] = DecodingOptions.MethodName(r.Options.Method),
                ["images"] = r.Runs.Count,
                ["nfe"] = r.Nfe,
                ["step_compression"] = r.StepCompression(ar),
                ["latency_ms"] = r.LatencyMs,
                ["speedup"] = r.Speedup(ar),
                ["accepted_per_pass"] = r.AcceptedPerPass,
                ["host_share"] = r.HostShare,
                ["time_shares"] = SharesJson(r.TimeShares, i => TimeBreakdown.Names[i]),
                ["single_token_pass_share"] = r.SingleTokenPassShare,
                ["fed_per_pass"] = r.FedPerPass,
                ["reseeds_per_image"] = r.ReseedsPerImage,
                ["committed_per_pass_histogram"] = SharesJson(r.CommittedHistogram, BenchMethod.BucketLabel),
                ["fed_per_pass_histogram"] = SharesJson(r.FedHistogram, BenchMethod.BucketLabel),
                ["transfer_bytes_per_pass"] = Math.Round(r.TransferBytesPerPass),
                ["kv_bytes_per_pass"] = Math.Round(r.KvBytesPerPass),
                ["read_back_bytes_per_pass"] = Math.Round(r.ReadBackBytesPerPass),
                ["accuracy"] = r.Accuracy,
                ["fidelity"] = scorer.Fidelity(r.Label) is { } f ? EvalCommand.FidelityJson(f.Fidelity, f.Floor) : null,
                ["window"] = DecodingOptions.WindowOf(r.Options),
                ["options"] = DecodingOptions.Describe(r.Options),
            };
            foreach (var x in r.Runs)
            {
                runs.Add(new JsonObject
                {
                    ["method"] = r.Label,
                    ["prompt"] = x.Prompt,
                    ["seed"] = x.Seed,
                    ["nfe"] = x.Nfe,
                    ["latency_ms"] = x.LatencyMs,
                    ["accepted_per_pass"] = x.AcceptedPerPass,
                    ["host_share"] = x.HostShare,
                    ["reseeds"] = x.Reseeds,
                    ["correct"] = x.Correct,
                });
            }
        }
        var m = pipeline.Manifest;
        return new JsonObject
        {
            ["model"] = m.Name,
            ["model_dir"] = ReportPath(pipeline.ModelDirectory),
            ["grid"] = $"{m.Image.GridHeight}x{m.Image.GridWidth}",
            ["codebook_size"] = m.Image.CodebookSize,
            ["provider"] = provider,
            ["cores"] = Environment.ProcessorCount,
            ["prompts"] = new JsonArray([.. prompts.Select(p => (JsonNode?)p)]),
            ["seeds"] = seeds,
            ["base_seed"] = baseSeed,
            ["warmup_rounds"] = warmup,
            ["evaluator"] = scorer.CanScore && scorer.WorldPath is { } world ? ReportPath(world) : null,
            ["evaluator_version"] = scorer.Version,
            ["held_out_prompts"] = scorer.CanScore && heldOut,
            ["methods"] = summary,
            ["skipped"] = skipped,
            ["runs"] = runs,
        };
    }

    /// <summary>Paths in reports are relative to the working folder, so a committed report names no machine.</summary>
    internal static string ReportPath(string path) =>
        Path.GetRelativePath(Environment.CurrentDirectory, Path.GetFullPath(path)).Replace('\\', '/');
}
