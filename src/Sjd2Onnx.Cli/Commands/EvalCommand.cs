using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Sjd2Onnx.Cli.Options;
using Sjd2Onnx.Decoding;
using Sjd2Onnx.Evaluation;
using Sjd2Onnx.Imaging;
using Sjd2Onnx.IO;

namespace Sjd2Onnx.Cli.Commands;

/// <summary>
/// <c>sjd2 eval --prompts N|FILE</c>: generates one image per prompt with the shapes demo model (or
/// an entropy-world model, scored by TextureEval) and scores it against its prompt (per attribute
/// and overall), for prompts drawn from the training grammar and, separately, for held-out
/// colour+shape combinations.
/// <c>sjd2 eval --validate DIR</c>: the evaluator on rendered ground truth and on the corruption set.
/// Next to accuracy it reports fidelity: how far the generated scenes' free attributes (size when
/// unstated, jitter, pair shift, background) are distributed from the world's for the same prompts.
/// <c>--rescore DIR</c> scores the images an earlier <c>--images DIR</c> run saved instead of generating.
/// </summary>
internal sealed class EvalCommand
{
    private const string NoWorld = "this model has no shapes_world.json; sjd2 eval works with the shapes demo model";
    private const string NoWorldForEval = "this model has no shapes_world.json or texture_world.json; sjd2 eval works with the shapes demo model and entropy-world models";

    private readonly Option<string?> _prompts = new("--prompts")
    {
        Description = "N: draw N prompts from the shapes grammar and N held-out colour+shape prompts; FILE: one prompt a line (# comments).",
        HelpName = "N|FILE",
    };

    private readonly Option<string?> _validate = new("--validate")
    {
        Description = "Instead of generating: score the rendered ground truth in DIR (e.g. tests/data/shapes) against its own captions.",
        HelpName = "DIR",
    };

    private readonly Option<string?> _images = new("--images")
    {
        Description = "Existing folder to save every generated image in.",
        HelpName = "DIR",
    };

    private readonly Option<string?> _rescore = new("--rescore")
    {
        Description = "Instead of generating: score the images an earlier run saved with --images DIR (same --prompts and --seed), e.g. with a newer evaluator.",
        HelpName = "DIR",
    };

    private readonly Option<int?> _corruptions = new("--corruptions")
    {
        Description = "With --validate: corrupted scenes a kind to draw and score (default 100; 0 skips the corruption set).",
        HelpName = "N",
    };

    private readonly Option<string?> _world = new("--world")
    {
        Description = "World file: shapes_world.json, or texture_world.json for an entropy-world model (default: the one in the model folder).",
        HelpName = "FILE",
    };

    private readonly Option<ulong?> _seed = SharedOptions.Seed("Seed of the first prompt (default 0); prompt i uses seed + i.");
    private readonly Option<string?> _json = SharedOptions.Json("Write the scores (and every sample) as JSON.");
    private readonly Option<bool> _quiet = SharedOptions.Quiet();
    private readonly ModelOptions _model = new();
    private readonly SamplingOptions _sampling = new();
    private readonly DecodingOptions _decoding = new();

    /// <summary>The <c>eval</c> command.</summary>
    public static Command Create() => new EvalCommand().Build();

    private Command Build()
    {
        var command = new Command("eval",
            "Shapes demo model (or an entropy-world model, scored by TextureEval): generate one image per prompt and score it against its prompt, per attribute and overall, for grammar prompts and held-out colour+shape prompts, with the fidelity gap (shapes world) of what the prompts leave free to the world's distribution. With --validate: the scorer on rendered ground truth and on a corruption set.");
        command.Options.Add(_prompts);
        command.Options.Add(_validate);
        command.Options.Add(_json);
        command.Options.Add(_images);
        command.Options.Add(_rescore);
        command.Options.Add(_corruptions);
        command.Options.Add(_seed);
        command.Options.Add(_world);
        _decoding.AddTo(command);
        _sampling.AddTo(command);
        _model.AddTo(command);
        command.Options.Add(_quiet);
        command.SetAction(RunAsync);
        return command;
    }

    private async Task<int> RunAsync(ParseResult parse, CancellationToken ct)
    {
        string? json = parse.GetValue(_json);
        if (json is not null) UsageException.FromEngine(() => OutputFile.Check(json, "--json"));
        bool quiet = parse.GetValue(_quiet);
        string? validate = parse.GetValue(_validate);
        return validate is not null ? Validate(parse, validate, json, quiet) : await EvaluateAsync(parse, json, quiet, ct);
    }

    private async Task<int> EvaluateAsync(ParseResult parse, string? json, bool quiet, CancellationToken ct)
    {
        string promptsArg = parse.GetValue(_prompts)
            ?? throw new UsageException("eval needs --prompts N (draw N prompts from the shapes grammar, and N held-out ones) or --prompts FILE (one prompt a line).");
        string modelDir = _model.Folder(parse);
        var (evaluator, texture) = LoadWorld(parse.GetValue(_world), modelDir);
        ulong seed = parse.GetValue(_seed) ?? 0;
        string? imagesDir = parse.GetValue(_images);
        if (imagesDir is not null && !Directory.Exists(imagesDir))
            throw new UsageException($"the --images folder '{imagesDir}' does not exist; create it first.");
        if (parse.GetResult(_corruptions) is not null)
            throw new UsageException("--corruptions goes with --validate; eval --prompts generates and draws no corruption set.");
        string? rescoreDir = parse.GetValue(_rescore);
        if (rescoreDir is not null && !Directory.Exists(rescoreDir))
            throw new UsageException($"the --rescore folder '{rescoreDir}' does not exist; pass the folder an earlier 'eval --images' run wrote.");
        if (rescoreDir is not null && imagesDir is not null)
            throw new UsageException("--rescore reads saved images and --images saves new ones; pass one of them.");

        var sets = new List<(string Name, IReadOnlyList<string> Prompts)>();
        if (int.TryParse(promptsArg, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n))
        {
            if (n < 1 || n > 100000) throw new UsageException($"--prompts must be between 1 and 100000, got {n}.");
            sets.Add(("training", texture?.DrawPrompts(n, seed, heldOut: false) ?? evaluator!.DrawPrompts(n, seed, heldOut: false)));
            sets.Add(("held_out", texture?.DrawPrompts(n, seed, heldOut: true) ?? evaluator!.DrawPrompts(n, seed, heldOut: true)));
        }
        else sets.Add(("prompts", ReadPromptFile(promptsArg, p => texture is not null ? texture.Parse(p) is not null : evaluator!.Parse(p) is not null,
            texture is not null ? "texture" : "shapes")));

        SharedOptions.CheckSeedRange(seed, sets.Max(set => set.Prompts.Count));
        var decodingMethod = _decoding.MethodOf(parse);
        string method = DecodingOptions.MethodName(decodingMethod);
        var options = _decoding.Bind(parse, _sampling, new GenerationOptions());
        using var pipeline = _model.Open(parse);
        var sampling = pipeline.Manifest.Sampling;
        UsageException.FromEngine(() =>
        {
            sampling = options.ResolveSampling(pipeline.Manifest.Sampling);
            if (options.Method != DecodingMethod.Ar) options.ResolveDecoding(pipeline.Manifest);
            DecodingOptions.NoticeChainFallback(options, pipeline);
            foreach (var (_, prompts) in sets)
                foreach (var p in prompts) pipeline.Tokenize(p); // prompt errors before any work
        });

        bool showProgress = StatusLine.Enabled(quiet);
        var results = new List<SetResult>();
        var samples = new JsonArray();
        var clock = Stopwatch.StartNew();
        foreach (var (name, prompts) in sets)
        {
            var scores = new List<Verdicts>();
            var measures = new List<ShapesSceneMeasure>();
            var parsed = new List<ShapesPrompt>();
            long passes = 0;
            double ms = 0;
            for (int i = 0; i < prompts.Count; i++)
            {
                if (showProgress) StatusLine.Show($"{name} {i + 1}/{prompts.Count}");
                ulong s = seed + (ulong)i;
                var (image, statistics) = rescoreDir is null
                    ? await Generate(pipeline, prompts[i], options with { Seed = s }, ct)
                    : (Saved(rescoreDir, name, i), null);
                Verdicts score;
                JsonNode found;
                if (texture is not null)
                {
                    var t = texture.Score(prompts[i], image);
                    (score, found) = (new Verdicts(t.Overall, t.Attributes), t.ObjectsFound);
                }
                else
                {
                    var shapes = evaluator!.Score(prompts[i], image);
                    (score, found) = (new Verdicts(shapes.Overall, shapes.Attributes.ToDictionary(a => a.Key, a => (bool?)a.Value)),
                        ShapesGroundTruth.Describe(shapes.Detected));
                    parsed.Add(shapes.Expected);
                    measures.Add(ShapesFidelity.Measure(evaluator, shapes, evaluator.MeasureBackground(image)));
                }
                scores.Add(score);
                passes += statistics?.Passes ?? 0;
                ms += statistics?.TotalTime.TotalMilliseconds ?? 0;
                string? file = null;
                if (imagesDir is not null)
                {
                    file = Path.Combine(imagesDir, $"{name}-{i:D4}.png");
                    PngFile.Save(image, file);
                }
                var attrs = new JsonObject();
                foreach (var (k, v) in score.Attributes.Where(a => a.Value is not null)) attrs[k] = v;
                samples.Add(new JsonObject
                {
                    ["set"] = name,
                    ["prompt"] = prompts[i],
                    ["seed"] = s,
                    ["overall"] = score.Overall,
                    ["attributes"] = attrs,
                    ["found"] = found,
                    ["passes"] = statistics?.Passes,
                    ["ms"] = statistics is null ? null : Math.Round(statistics.TotalTime.TotalMilliseconds, 1),
                    ["image"] = file ?? (rescoreDir is null ? null : Path.Combine(rescoreDir, $"{name}-{i:D4}.png")),
                });
            }
            StatusLine.End();
            // fidelity measures the shapes world's free attributes; the entropy world has no such measure
            (ShapesFidelityReport, ShapesFidelityReport)? gap = null;
            if (evaluator is not null)
            {
                var reference = ShapesFidelity.Reference(evaluator, parsed);
                gap = (ShapesFidelity.Compare(evaluator.World, measures, reference), ShapesFidelity.NoiseFloor(evaluator, parsed, reference));
            }
            results.Add(new SetResult(name, scores, prompts.Count == 0 ? 0 : (double)passes / prompts.Count, prompts.Count == 0 ? 0 : ms / prompts.Count,
                gap?.Item1, gap?.Item2));
        }

        string version = texture is not null ? TextureEvaluator.Version : ShapesEvaluator.Version;
        PrintTable(results, method, seed, pipeline.Manifest.Name, version);
        if (json is not null)
        {
            var root = Fields(results[0]);
            root["model"] = BenchCommand.ReportPath(pipeline.ModelDirectory);
            root["method"] = method;
            root["evaluator"] = version;
            // the settings in effect: options given, the manifest's defaults for the rest
            root["sampling"] = new JsonObject
            {
                ["cfg"] = sampling.CfgScale,
                ["temperature"] = sampling.Temperature,
                ["top_k"] = sampling.TopK,
                ["top_p"] = sampling.TopP,
            };
            if (rescoreDir is not null) root["rescored"] = BenchCommand.ReportPath(rescoreDir);
            root["seed"] = seed;
            root["prompts"] = sets.Count == 2 ? (JsonNode)JsonValue.Create(sets[0].Prompts.Count) : Path.GetFullPath(promptsArg);
            if (results.Count == 2) root["held_out"] = Fields(results[1]);
            root["seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 2);
            root["samples"] = samples;
            WriteJson(json, root);
        }
        return 0;
    }

    private static async Task<(RgbImage, PassStatistics?)> Generate(Sjd2Pipeline pipeline, string prompt, GenerationOptions options, CancellationToken ct)
    {
        var result = await pipeline.GenerateAsync(prompt, options, null, ct);
        return (result.Image, result.Statistics);
    }

    private static RgbImage Saved(string dir, string set, int index)
    {
        string path = Path.Combine(dir, $"{set}-{index:D4}.png");
        if (!File.Exists(path))
            throw new UsageException($"--rescore: '{path}' is missing; the folder must come from 'eval --images' with the same --prompts and --seed.");
        try { return ShapesGroundTruth.ReadPng(path); }
        catch (Sjd2Exception e) { throw new UsageException($"--rescore: {e.Message}"); }
    }

    private int Validate(ParseResult parse, string dir, string? json, bool quiet)
    {
        // Scoring ground truth generates nothing: the generation options would be silently ignored.
        var generationOnly = new Option[] { _prompts, _images, _rescore, _seed, _model.Provider, _model.DeviceId, _decoding.Method, _sampling.Cfg, _sampling.Temperature, _sampling.TopK, _sampling.TopP };
        if (generationOnly.FirstOrDefault(o => parse.GetResult(o) is not null) is { } extra)
            throw new UsageException($"'eval --validate' has no option {extra.Name}; it scores rendered images and generates none.");
        string? world = parse.GetValue(_world);
        string? folder = world is null ? _model.Folder(parse) : null;
        if (IsTextureWorld(world, folder))
            throw new UsageException("eval --validate checks ShapesEval on the shapes ground truth; TextureEval is validated by 'python -m tools.pysjd2.texture_eval' and the engine's port agrees with it on tests/data/texture-eval.");
        var evaluator = LoadEvaluator(world, folder);
        int perKind = parse.GetValue(_corruptions) ?? ShapesCorruptionSet.DefaultPerKind;
        if (perKind is < 0 or > 100000) throw new UsageException($"--corruptions must be between 0 and 100000, got {perKind}.");
        if (!Directory.Exists(dir)) throw new UsageException($"the ground-truth folder '{dir}' does not exist.");
        var report = ShapesGroundTruth.Load(dir).Validate(evaluator);
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine(string.Create(inv, $"ground truth '{dir}': {report.Images} images"));
        Console.WriteLine(string.Create(inv, $"agreement with their own captions: {report.Agreed}/{report.Images} = {Pct(report.Agreement)} (with full labels: {report.AgreedFullLabels}/{report.Images})"));
        int rejected = report.Mismatches.Values.Sum(m => m.Rejected), total = report.Mismatches.Values.Sum(m => m.Total);
        Console.WriteLine(string.Create(inv, $"wrong captions rejected: {rejected}/{total} = {Pct(report.RejectionRate)} (") +
            string.Join(", ", report.Mismatches.Select(m => $"{m.Key} {m.Value.Rejected}/{m.Value.Total}")) + ")");
        if (!quiet)
        {
            foreach (var (file, prompt, failures) in report.Disagreements) Console.WriteLine($"  disagrees: {file} \"{prompt}\": {failures}");
            foreach (var (file, kind, prompt) in report.Accepted) Console.WriteLine($"  accepted wrong {kind}: {file} \"{prompt}\"");
        }
        var corrupt = ShapesCorruptionSet.Evaluate(evaluator, perKind, ShapesCorruptionSet.DefaultSeed);
        if (perKind > 0) Console.WriteLine(string.Create(inv, $"corruption set ({perKind} images a kind, drawn and rendered by the world's rules): accepted"));
        var missed = new List<string>();
        foreach (var (kind, accepted, all) in corrupt.Kinds.Where(k => k.Total > 0))
        {
            string target = ShapesCorruptionSet.Targets.TryGetValue(kind, out var t)
                ? kind == "clean" ? $"target >= {Pct(t)} accepted" : $"target <= {Pct(1 - t)} accepted"
                : "reported only";
            bool met = !ShapesCorruptionSet.Meets(kind, corrupt.Acceptance(kind));
            if (met) missed.Add(kind);
            Console.WriteLine(string.Create(inv, $"  {kind,-11} {accepted,4}/{all,-4} {Pct(corrupt.Acceptance(kind)),7}   ({target}){(met ? "  MISSED" : "")}"));
        }
        bool ok = report.Agreement >= ShapesCorruptionSet.Targets["clean"] && missed.Count == 0;
        Console.WriteLine(ok ? $"validate ok ({ShapesEvaluator.Version}: ground truth >= 99% accepted, every corruption target met)"
            : $"validate FAILED ({ShapesEvaluator.Version}: " + (report.Agreement < ShapesCorruptionSet.Targets["clean"] ? "ground-truth agreement < 99%" : "") +
              (missed.Count > 0 ? " targets missed: " + string.Join(", ", missed) : "") + ")");
        if (json is not null)
        {
            var mism = new JsonObject();
            foreach (var (k, (r, t)) in report.Mismatches) mism[k] = new JsonObject { ["rejected"] = r, ["total"] = t };
            WriteJson(json, new JsonObject
            {
                ["images"] = report.Images,
                ["agreement"] = Math.Round(report.Agreement, 4),
                ["agreement_full_labels"] = Math.Round((double)report.AgreedFullLabels / report.Images, 4),
                ["rejection"] = Math.Round(report.RejectionRate, 4),
                ["mismatches"] = mism,
                ["evaluator"] = ShapesEvaluator.Version,
                ["corruptions"] = Corruptions(corrupt),
            });
        }
        return ok ? 0 : 1;
    }

    private static JsonObject Corruptions(ShapesCorruptionReport report)
    {
        var o = new JsonObject();
        foreach (var (kind, accepted, total) in report.Kinds) o[kind] = new JsonObject { ["accepted"] = accepted, ["total"] = total };
        return o;
    }

    private static ShapesEvaluator LoadEvaluator(string? worldFile, string? modelDir)
    {
        if (worldFile is not null)
        {
            if (!File.Exists(worldFile)) throw new UsageException($"the shapes world file '{worldFile}' does not exist.");
            return ShapesEvaluator.Load(worldFile);
        }
        string path = Path.Combine(modelDir!, ShapesWorld.FileName);
        if (!File.Exists(path)) throw new UsageException(NoWorld);
        return ShapesEvaluator.Load(path);
    }

    // The evaluator of the world file given, or of the model folder's: ShapesEval for shapes_world.json, TextureEval for texture_world.json.
    private static (ShapesEvaluator? Shapes, TextureEvaluator? Texture) LoadWorld(string? worldFile, string modelDir)
    {
        if (!IsTextureWorld(worldFile, modelDir)) return (worldFile is null && !File.Exists(Path.Combine(modelDir, ShapesWorld.FileName))
            ? throw new UsageException(NoWorldForEval) : LoadEvaluator(worldFile, modelDir), null);
        string path = worldFile ?? Path.Combine(modelDir, TextureWorld.FileName);
        return (null, UsageException.FromEngine(() => TextureEvaluator.Load(path)));
    }

    // A world file named texture_world.json, or a model folder with one and no shapes_world.json.
    private static bool IsTextureWorld(string? worldFile, string? modelDir) => worldFile is not null
        ? Path.GetFileName(worldFile) == TextureWorld.FileName
        : modelDir is not null && !File.Exists(Path.Combine(modelDir, ShapesWorld.FileName)) && File.Exists(Path.Combine(modelDir, TextureWorld.FileName));

    private static List<string> ReadPromptFile(string path, Func<string, bool> inGrammar, string world)
    {
        if (!File.Exists(path))
            throw new UsageException($"--prompts takes a count or a file with one prompt a line; '{path}' is neither.");
        string[] lines = UsageException.FromEngine(() => InputFile.ReadAllLines(path, InputFile.MaxTextBytes, "--prompts file"));
        var prompts = new List<string>();
        for (int i = 0; i < lines.Length; i++)
        {
            string p = lines[i].Trim();
            if (p.Length == 0 || p.StartsWith('#')) continue;
            if (!inGrammar(p))
                throw new UsageException($"{path}:{i + 1}: \"{p}\" is not in the {world} world's grammar (e.g. \"a red circle on the left\", \"a big blue square above a small green triangle\").");
            prompts.Add(p);
        }
        if (prompts.Count == 0) throw new UsageException($"'{path}' has no prompts (one a line; blank lines and # comments are skipped).");
        return prompts;
    }

    private static void WriteJson(string path, JsonObject root) =>
        OutputFile.WriteAllText(path, root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n", "--json");

    private sealed record SetResult(string Name, IReadOnlyList<Verdicts> Scores, double MeanPasses, double MeanMs,
        ShapesFidelityReport? Fidelity, ShapesFidelityReport? NoiseFloor)
    {
        /// <summary>Share of prompts stating the attribute that satisfy it; null when none states it.</summary>
        public double? Accuracy(string attribute)
        {
            if (attribute == "overall") return Scores.Count == 0 ? null : Scores.Count(s => s.Overall) / (double)Scores.Count;
            var stated = Scores.Where(s => s.Attributes.TryGetValue(attribute, out var v) && v is not null).ToList();
            return stated.Count == 0 ? null : stated.Count(s => s.Attributes[attribute] == true) / (double)stated.Count;
        }
    }

    private static JsonObject Fields(SetResult r)
    {
        var o = new JsonObject { ["overall"] = Round(r.Accuracy("overall")) };
        foreach (var a in ShapesEvaluator.AttributeNames) o[a] = Round(r.Accuracy(a));
        o["n"] = r.Scores.Count;
        o["mean_passes"] = Math.Round(r.MeanPasses, 2);
        o["mean_ms"] = Math.Round(r.MeanMs, 1);
        if (r.Fidelity is not null && r.NoiseFloor is not null) o["fidelity"] = FidelityJson(r.Fidelity, r.NoiseFloor);
        return o;
    }

    /// <summary>The fidelity gap with its distances per attribute, and the same for two samples of the world (the floor).</summary>
    internal static JsonObject FidelityJson(ShapesFidelityReport fidelity, ShapesFidelityReport floor)
    {
        var o = new JsonObject { ["score"] = Math.Round(fidelity.Score, 4) };
        foreach (var (k, v) in fidelity.Distances) o[k] = Math.Round(v, 4);
        var f = new JsonObject { ["score"] = Math.Round(floor.Score, 4) };
        foreach (var (k, v) in floor.Distances) f[k] = Math.Round(v, 4);
        o["world_vs_world"] = f;
        return o;
    }

    private static string Pct(double v) => (100 * v).ToString("F1", CultureInfo.InvariantCulture) + "%";

    private static double? Round(double? v) => v is null ? null : Math.Round(v.Value, 4);

    private static void PrintTable(IReadOnlyList<SetResult> results, string method, ulong seed, string model, string version)
    {
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine($"sjd2 eval: model {model}, method {method}, seed {seed}, {version}");
        string Head(SetResult r) => $"{(r.Name == "held_out" ? "held-out" : r.Name)} (n={r.Scores.Count})";
        Console.WriteLine("attribute  " + string.Concat(results.Select(r => Head(r).PadLeft(20))));
        foreach (var a in ShapesEvaluator.AttributeNames.Append("overall"))
            Console.WriteLine(a.PadRight(11) + string.Concat(results.Select(r =>
                (r.Accuracy(a) is double v ? Pct(v) : "-").PadLeft(20))));
        if (results.Any(r => r.Fidelity is null || r.NoiseFloor is null))
        {
            PrintCost(results);
            return;
        }
        Console.WriteLine("fidelity gap (0 = the world's distribution; two samples of the world differ by the floor)");
        foreach (var a in ShapesFidelity.AttributeNames.Append("score"))
            Console.WriteLine(a.PadRight(11) + string.Concat(results.Select(r =>
            {
                double? v = a == "score" ? r.Fidelity!.Score : r.Fidelity!.Distances.TryGetValue(a, out var d) ? d : null;
                double? f = a == "score" ? r.NoiseFloor!.Score : r.NoiseFloor!.Distances.TryGetValue(a, out var g) ? g : null;
                return (v is double x ? x.ToString("F3", inv) + (f is double y ? $" (floor {y.ToString("F3", inv)})" : "") : "-").PadLeft(20);
            })));
        PrintCost(results);
    }

    private static void PrintCost(IReadOnlyList<SetResult> results)
    {
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine("passes/img " + string.Concat(results.Select(r => r.MeanPasses.ToString("F1", inv).PadLeft(20))));
        Console.WriteLine("ms/img     " + string.Concat(results.Select(r => r.MeanMs.ToString("F0", inv).PadLeft(20))));
    }
}
