using System.Diagnostics;
using System.Text.Json.Nodes;
using Sjd2Onnx.Tests.Support;

namespace Sjd2Onnx.Tests;

/// <summary><c>sjd2 bench</c>, <c>generate --trace</c> and the speculative options, through the CLI as a child process.</summary>
public sealed class BenchCommandTests : IDisposable
{
    private readonly string _temp = Path.Combine(Path.GetTempPath(), "sjd2-bench-tests-" + Guid.NewGuid().ToString("N")[..12]);

    public BenchCommandTests() => Directory.CreateDirectory(_temp);

    public void Dispose()
    {
        try { Directory.Delete(_temp, recursive: true); } catch (IOException) { }
    }

    [Fact]
    public void Bench_ReportsEveryMethodAndWritesJson()
    {
        var (root, stdout, _) = BenchJson("bench.json", "--model", SpeculativeTestSupport.ModelDir("tiny"), "--methods", "ar,sjd,sjd++,sjd++:reuse-threshold=0.2,sjd2,sjd2:kv=exact,sjd:window=auto",
            "--prompts", "2", "--seeds", "2", "--warmup", "1");
        Assert.Contains("step x", stdout);
        var methods = root["methods"]!.AsObject();
        Assert.Equal(["ar", "sjd", "sjd++", "sjd++:reuse-threshold=0.2", "sjd2", "sjd2:kv=exact", "sjd:window=auto"], methods.Select(m => m.Key));
        Assert.Equal("threshold", (string)methods["sjd++:reuse-threshold=0.2"]!["options"]!["reuse"]!);
        foreach (var (name, m) in methods)
        {
            foreach (var key in new[] { "nfe", "step_compression", "latency_ms", "speedup", "accepted_per_pass", "host_share", "single_token_pass_share", "fed_per_pass" })
                Assert.True(m![key] is not null, $"{name} lacks {key}");
            // The per-pass histograms are shares of the same passes: each sums to 1.
            Assert.Equal(1.0, m!["committed_per_pass_histogram"]!.AsObject().Sum(b => (double)b.Value!), 6);
            Assert.Equal(1.0, m["fed_per_pass_histogram"]!.AsObject().Sum(b => (double)b.Value!), 6);
            // Wall time by component: every component present, none negative, together the whole generation.
            var shares = m["time_shares"]!.AsObject();
            Assert.Equal(["transformer", "embeddings", "distributions", "kv_cache", "decoder_host", "image"], shares.Select(c => c.Key));
            Assert.All(shares, c => Assert.InRange((double)c.Value!, 0, 1));
            Assert.InRange(shares.Sum(c => (double)c.Value!), 0.98, 1.02);
            Assert.True((double)shares["transformer"]! > 0, $"{name}: no transformer time");
            Assert.True((double)shares["kv_cache"]! > 0, $"{name}: the host-memory KV cache's bookkeeping was not timed");
            Assert.True(m!.AsObject().ContainsKey("accuracy"));
            Assert.Equal(4, (int)m["images"]!);
            Assert.InRange((double)m["nfe"]!, 1, 16);
        }
        Assert.Equal(1.0, (double)methods["ar"]!["step_compression"]!);
        Assert.Equal(16.0, (double)methods["ar"]!["nfe"]!);
        // AR commits and feeds one token per pass; SJD's default window feeds up to 16.
        Assert.Equal(1.0, (double)methods["ar"]!["single_token_pass_share"]!);
        Assert.Equal(1.0, (double)methods["ar"]!["fed_per_pass"]!);
        Assert.Equal(1.0, (double)methods["ar"]!["committed_per_pass_histogram"]!["1"]!);
        Assert.InRange((double)methods["sjd"]!["fed_per_pass"]!, 2, 16);
        Assert.Equal(28, root["runs"]!.AsArray().Count);
    }

    [Fact]
    public void Bench_ReportsTheBytesReadBackPerPass()
    {
        // The default model: 512 codes, top-k 8, one row (guidance 1). Sampling on the provider
        // decodes the same images in the same passes and reads back the top 8 values and codes of
        // each position (64 bytes) instead of its 512 logits (2048 bytes).
        JsonObject Methods(string sampleOnDevice) => BenchJson($"read-back-{sampleOnDevice}.json", "--model", Path.Combine(TestPaths.RepoRoot, "onnx"),
            "--methods", "ar,sjd++", "--prompts", "1", "--seeds", "1", "--warmup", "0", "--sample-on-device", sampleOnDevice).Root["methods"]!.AsObject();
        var on = Methods("on");
        var off = Methods("off");
        foreach (var name in new[] { "ar", "sjd++" })
        {
            Assert.Equal((double)off[name]!["nfe"]!, (double)on[name]!["nfe"]!);
            double onBytes = (double)on[name]!["read_back_bytes_per_pass"]!, offBytes = (double)off[name]!["read_back_bytes_per_pass"]!;
            Assert.True(onBytes >= 64 && offBytes >= 2048, $"{name}: {onBytes} and {offBytes} bytes a pass");
            Assert.Equal(64.0 / 2048, onBytes / offBytes, 2);
        }
    }

    [Fact]
    public void Bench_CountsTheReseedings()
    {
        var (root, _, _) = BenchJson("reseed.json", "--model", SpeculativeTestSupport.ModelDir("tiny"), "--methods", "ar,sjd:reseed=1,sjd:reseed=0",
            "--prompts", "2", "--seeds", "4", "--warmup", "0");
        var methods = root["methods"]!.AsObject();
        Assert.Equal(0.0, (double)methods["ar"]!["reseeds_per_image"]!);
        Assert.Equal(0.0, (double)methods["sjd:reseed=0"]!["reseeds_per_image"]!);
        // tiny's random weights stall often: re-seeding after every one-token pass fires.
        double perImage = (double)methods["sjd:reseed=1"]!["reseeds_per_image"]!;
        Assert.True(perImage > 0, "re-seeding after every stall never fired");
        var runs = root["runs"]!.AsArray().Where(r => (string)r!["method"]! == "sjd:reseed=1").ToList();
        Assert.Equal(8, runs.Count);
        Assert.Equal(perImage, runs.Average(r => (int)r!["reseeds"]!), 9);
    }

    [Fact]
    public void BenchPasses_MeasuresEveryWindowAndCacheLengthWithTheRoofline()
    {
        string json = Path.Combine(_temp, "passes.json");
        var (code, stdout, stderr) = Cli("bench", "--passes", "--model", SpeculativeTestSupport.ModelDir("tiny"),
            "--peak-gflops", "400", "--peak-gbps", "150", "--json", json);
        Assert.True(code == 0, stderr);
        Assert.Contains("roofline", stdout);
        var passes = JsonNode.Parse(File.ReadAllText(json))!["passes"]!.AsArray();
        // tiny: 16 slots, 48 positions -> windows 1, 2, 4, 8, 16 over a cache of 16 (64 + 16 does not fit)
        Assert.Equal([1, 2, 4, 8, 16], passes.Select(r => (int)r!["window"]!));
        Assert.All(passes, r => Assert.Equal(16, (int)r!["cache_length"]!));
        foreach (var row in passes)
        {
            Assert.True((double)row!["median_ms"]! > 0);
            Assert.True((double)row["min_ms"]! <= (double)row["median_ms"]!);
            Assert.InRange((double)row["roofline_fraction"]!, 1e-6, 10);
        }
        // Work grows with the window.
        double Flops(int w) => (double)passes.First(r => (int)r!["window"]! == w && (int)r["cache_length"]! == 16)!["flops"]!;
        Assert.True(Flops(16) > 8 * Flops(1));
        // tiny samples with guidance (cfg 3): both CFG rows, as its generations run.
        Assert.Equal(2, (int)JsonNode.Parse(File.ReadAllText(json))!["rows"]!);
        Assert.Contains("2 rows (CFG)", stdout);

        // Guidance off: one row, half the work of every pass.
        string single = Path.Combine(_temp, "passes-single.json");
        (code, stdout, stderr) = Cli("bench", "--passes", "--model", SpeculativeTestSupport.ModelDir("tiny"), "--cfg", "1",
            "--peak-gflops", "400", "--peak-gbps", "150", "--json", single);
        Assert.True(code == 0, stderr);
        Assert.Contains("1 row", stdout);
        var oneRow = JsonNode.Parse(File.ReadAllText(single))!;
        Assert.Equal(1, (int)oneRow["rows"]!);
        foreach (var row in oneRow["passes"]!.AsArray())
            Assert.Equal(Flops((int)row!["window"]!) / 2, (double)row["flops"]!, 6);
        var (badCfg, _, cfgErr) = Cli("bench", "--passes", "--model", SpeculativeTestSupport.ModelDir("tiny"), "--cfg", "1000");
        Assert.Equal(2, badCfg);
        Assert.Contains("--cfg must be", cfgErr);

        // Without peaks, bench measures this machine's: a MatMul's GFLOP/s and an Add's GB/s.
        (code, stdout, stderr) = Cli("bench", "--passes", "--model", SpeculativeTestSupport.ModelDir("tiny"), "--json", json);
        Assert.True(code == 0, stderr);
        Assert.Contains("measured here", stdout);
        var measured = JsonNode.Parse(File.ReadAllText(json))!;
        Assert.Equal("measured here", (string)measured["peaks"]!);
        Assert.InRange((double)measured["peak_gflops"]!, 1, 1e5);
        Assert.InRange((double)measured["peak_gbps"]!, 0.1, 1e4);
        Assert.All(measured["passes"]!.AsArray(), r => Assert.InRange((double)r!["roofline_fraction"]!, 1e-6, 10));

        var (bad, _, err) = Cli("bench", "--passes", "--model", SpeculativeTestSupport.ModelDir("tiny"), "--peak-gflops", "400");
        Assert.Equal(2, bad);
        Assert.Contains("go together", err);
    }

    [Fact]
    public void BenchPasses_TimesTheRepeatsAskedForAndListsWindowsBeforeCacheLengths()
    {
        string json = Path.Combine(_temp, "repeats.json");
        var (code, _, stderr) = Cli("bench", "--passes", "--model", SpeculativeTestSupport.ModelDir("tiny"),
            "--windows", "4,1", "--cache-lengths", "8,0", "--repeats", "3", "--peak-gflops", "400", "--peak-gbps", "150", "--json", json);
        Assert.True(code == 0, stderr);
        var report = JsonNode.Parse(File.ReadAllText(json))!;
        Assert.Equal(3, (int)report["repeats"]!);
        // Measured cache by cache (one filled cache shared by the windows), reported window by window.
        Assert.Equal([(1, 0), (1, 8), (4, 0), (4, 8)],
            report["passes"]!.AsArray().Select(r => ((int)r!["window"]!, (int)r["cache_length"]!)));

        var (bad, _, err) = Cli("bench", "--passes", "--model", SpeculativeTestSupport.ModelDir("tiny"), "--repeats", "0");
        Assert.Equal(2, bad);
        Assert.Contains("--repeats", err);
    }

    [Fact]
    public void Bench_SkipsSjd2OnAModelWithoutItAndReadsPromptFiles()
    {
        string prompts = Path.Combine(_temp, "prompts.txt");
        File.WriteAllLines(prompts, ["# a comment", "a red circle", "", "a blue square on the left"]);
        var (root, _, stderr) = BenchJson("b.json", "--model", SpeculativeTestSupport.ModelDir("micro"), "--methods", "ar,sjd2,sjd",
            "--prompts", prompts, "--seeds", "1", "--warmup", "0");
        Assert.Contains("skipping sjd2", stderr);
        Assert.Equal(2, root["prompts"]!.AsArray().Count);
        Assert.NotNull(root["skipped"]!["sjd2"]);
        Assert.Equal(["ar", "sjd"], root["methods"]!.AsObject().Select(m => m.Key));
    }

    [Fact]
    public void Bench_ScoresWithTextureEvalWhenTheModelHasATextureWorld()
    {
        // The tiny model with the entropy world's file beside it, its image size set to the tiny
        // model's 16 px: every image of a prompt in the texture grammar (in words the tiny model
        // knows; drawn prompts are tested with the evaluator) gets a verdict.
        string model = Path.Combine(_temp, "tiny-texture");
        Directory.CreateDirectory(model);
        foreach (var f in Directory.GetFiles(SpeculativeTestSupport.ModelDir("tiny"))) File.Copy(f, Path.Combine(model, Path.GetFileName(f)));
        var world = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(TextureTestData.DataDir, "texture_world.json")))!;
        world["image_size"] = 16;
        File.WriteAllText(Path.Combine(model, "texture_world.json"), world.ToJsonString());
        string prompts = Path.Combine(_temp, "texture-prompts.txt");
        File.WriteAllLines(prompts, ["a red circle above a blue square", "a big green triangle in the center", "a red square left of a small blue circle and a yellow triangle on the right"]);
        var (root, stdout, _) = BenchJson("texture.json", "--model", model, "--methods", "ar,sjd", "--prompts", prompts, "--seeds", "1", "--warmup", "0");
        Assert.EndsWith("texture_world.json", (string?)root["evaluator"]);
        Assert.Equal(Sjd2Onnx.Evaluation.TextureEvaluator.Version, (string?)root["evaluator_version"]);
        var evaluator = Sjd2Onnx.Evaluation.TextureEvaluator.Load(Path.Combine(model, "texture_world.json"));
        Assert.All(root["prompts"]!.AsArray(), p => Assert.NotNull(evaluator.Parse((string)p!)));
        foreach (var m in root["methods"]!.AsObject())
        {
            Assert.InRange((double)m.Value!["accuracy"]!, 0, 1);
            Assert.Null(m.Value!["fidelity"]);
        }
        Assert.All(root["runs"]!.AsArray(), r => Assert.NotNull(r!["correct"]));
        Assert.Contains(Sjd2Onnx.Evaluation.TextureEvaluator.Version, stdout);
    }

    [Fact]
    public void Bench_ScoresWithTheShapesEvaluatorWhenTheModelHasAWorld()
    {
        // The tiny model with the demo's world file beside it: prompts come from the grammar and
        // every image gets a verdict (random weights: the verdicts are mostly false, but present).
        string model = Path.Combine(_temp, "tiny-shapes");
        Directory.CreateDirectory(model);
        foreach (var f in Directory.GetFiles(SpeculativeTestSupport.ModelDir("tiny"))) File.Copy(f, Path.Combine(model, Path.GetFileName(f)));
        string world = Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(SpeculativeTestSupport.ModelDir("tiny")))!, "..", "onnx", "shapes_world.json");
        File.Copy(world, Path.Combine(model, "shapes_world.json"));
        // The world's grammar in words the model knows: the demo's vocabulary (a prefix of the same
        // special tokens, fewer words, so every id fits the tiny model's table).
        File.Copy(Path.Combine(Path.GetDirectoryName(world)!, "vocab.txt"), Path.Combine(model, "vocab.txt"), overwrite: true);
        var (root, stdout, _) = BenchJson("scored.json", "--model", model, "--methods", "ar,sjd", "--prompts", "3", "--seeds", "1", "--warmup", "0");
        Assert.NotNull(root["evaluator"]);
        foreach (var m in root["methods"]!.AsObject()) Assert.InRange((double)m.Value!["accuracy"]!, 0, 1);
        foreach (var m in root["methods"]!.AsObject())
        {
            Assert.InRange((double)m.Value!["fidelity"]!["score"]!, 0, 1);
            Assert.InRange((double)m.Value!["fidelity"]!["world_vs_world"]!["score"]!, 0, 1);
        }
        Assert.Equal(Sjd2Onnx.Evaluation.ShapesEvaluator.Version, (string?)root["evaluator_version"]);
        Assert.Contains("fidelity", stdout);
        Assert.All(root["runs"]!.AsArray(), r => Assert.NotNull(r!["correct"]));
        Assert.Contains("%", stdout.Split('\n').Last(l => l.StartsWith("sjd", StringComparison.Ordinal)));
    }

    [Fact]
    public void GenerateTrace_WritesHeatMapAndPreviews()
    {
        string dir = Path.Combine(_temp, "trace");
        var (code, _, stderr) = Cli("generate", "a red circle", "--model", SpeculativeTestSupport.ModelDir("tiny-eol"), "--method", "sjd",
            "--out", Path.Combine(_temp, "a.png"), "--trace", dir, "--quiet");
        Assert.True(code == 0, stderr);
        Assert.True(File.Exists(Path.Combine(dir, "commit-pass.png")));
        Assert.True(File.Exists(Path.Combine(dir, "passes.png")));
        var trace = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "trace.json")))!;
        int passes = (int)trace["passes"]!;
        Assert.Equal(passes, Directory.GetFiles(dir, "pass-*.png").Length);
        // Every code was committed at some pass between the prefill (1) and the last.
        Assert.All(trace["commit_pass"]!.AsArray().SelectMany(r => r!.AsArray()), v => Assert.InRange((int)v!, 1, passes));
    }

    [Theory]
    [InlineData("not trained for SJD2", "--method", "sjd2", "--model", "micro")]
    [InlineData("--window must be at least 2", "--method", "sjd", "--window", "1")]
    [InlineData("--window must be an integer or 'auto'", "--method", "sjd", "--window", "big")]
    [InlineData("--reuse-threshold must be in (0, 1]", "--method", "sjd++", "--reuse-threshold", "1.5")]
    [InlineData("--reuse-threshold applies to method sjd++, not sjd.", "--method", "sjd", "--reuse-threshold", "0.5")]
    [InlineData("--reuse-threshold applies to reuse threshold, not coupled; leave reuse out or set it to threshold.", "--method", "sjd++", "--reuse", "coupled", "--reuse-threshold", "0.5")]
    [InlineData("unknown --reuse", "--method", "sjd++", "--reuse", "always")]
    [InlineData("--reuse applies to method sjd++ or sjd2, not sjd.", "--method", "sjd", "--reuse", "none")]
    [InlineData("--reuse threshold applies to method sjd++; sjd2 takes coupled or none", "--method", "sjd2", "--reuse", "threshold")]
    [InlineData("unknown --init", "--method", "sjd", "--init", "diagonal")]
    [InlineData("--init noise applies to method sjd2, not sjd; use random, horizontal or vertical.", "--method", "sjd", "--init", "noise")]
    [InlineData("--init applies to method sjd, sjd++, pac or sjd2, not ar.", "--method", "ar", "--init", "vertical")]
    [InlineData("unknown --kv", "--method", "sjd2", "--kv", "both")]
    [InlineData("--kv noise limit must be in [0, 1]", "--method", "sjd2", "--kv", "2")]
    [InlineData("unknown --schedule", "--method", "sjd2", "--schedule", "fast")]
    [InlineData("--schedule applies to method sjd2, not sjd.", "--method", "sjd", "--schedule", "window")]
    [InlineData("--denoise-steps must be at least 1", "--method", "sjd2", "--denoise-steps", "0")]
    [InlineData("--kv applies to method sjd2, not sjd.", "--method", "sjd", "--kv", "exact")]
    [InlineData("--accept-noise must be in [0, 1]", "--method", "sjd2", "--accept-noise", "1.5")]
    [InlineData("--accept-noise must be in [0, 1]", "--method", "sjd2", "--accept-noise", "-0.1")]
    [InlineData("--accept-noise applies to method sjd2, not sjd++.", "--method", "sjd++", "--accept-noise", "0")]
    [InlineData("unknown --method 'jacobi'; use ar, sjd, sjd++, pac or sjd2.", "--method", "jacobi")]
    public void BadSpeculativeOptions_AreOneLineErrors(string message, params string[] options)
    {
        var args = new List<string> { "generate", "a red circle", "--out", Path.Combine(_temp, "x.png") };
        var opts = options.ToList();
        int model = opts.IndexOf("--model");
        string modelName = model >= 0 ? opts[model + 1] : "tiny";
        if (model >= 0) opts.RemoveRange(model, 2);
        args.AddRange(opts);
        args.AddRange(["--model", SpeculativeTestSupport.ModelDir(modelName)]);
        var (code, _, stderr) = Cli([.. args]);
        Assert.Equal(2, code);
        Assert.Contains(message, stderr);
        Assert.Single(stderr.Trim().Split('\n'));
        Assert.False(File.Exists(Path.Combine(_temp, "x.png")));
    }

    [Fact]
    public void GenerateWithAutoWindow_Works()
    {
        var (code, stdout, stderr) = Cli("generate", "a red circle", "--model", SpeculativeTestSupport.ModelDir("tiny"), "--method", "sjd++",
            "--window", "auto", "--init", "vertical", "--reuse-threshold", "0.05", "--out", Path.Combine(_temp, "y.png"));
        Assert.True(code == 0, stderr);
        Assert.Contains("passes", stdout);
    }

    [Fact]
    public void Pac_UsesTreesWhereTheModelHasThemAndSaysSoWhereNot()
    {
        // tiny and the family exports have tree attention (window_mask): no notice. A model without
        // it (janus-pro, exported with --no-window-mask) decodes chains and says so in one line.
        var (code, _, stderr) = Cli("generate", "a red circle", "--model", SpeculativeTestSupport.ModelDir("tiny"), "--method", "pac",
            "--tree", "3x2", "--out", Path.Combine(_temp, "t.png"), "--quiet");
        Assert.True(code == 0, stderr);
        Assert.DoesNotContain("notice", stderr);
        string families = Path.Combine(Path.GetDirectoryName(SpeculativeTestSupport.ModelDir("tiny"))!, "families");
        (code, _, stderr) = Cli("generate", "a red circle", "--model", Path.Combine(families, "llamagen"), "--method", "pac", "--out", Path.Combine(_temp, "l.png"), "--quiet");
        Assert.True(code == 0, stderr);
        Assert.DoesNotContain("notice", stderr);
        (code, _, stderr) = Cli("generate", "a red circle", "--model", Path.Combine(families, "janus-pro"), "--method", "pac", "--out", Path.Combine(_temp, "f.png"), "--quiet");
        Assert.True(code == 0, stderr);
        Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.Contains("no tree attention"));
        (code, _, stderr) = Cli("generate", "a red circle", "--model", SpeculativeTestSupport.ModelDir("tiny"), "--method", "pac",
            "--tree", "3", "--out", Path.Combine(_temp, "x.png"));
        Assert.NotEqual(0, code);
        Assert.Contains("--tree must be WIDTHxDEPTH", stderr);
    }

    // `sjd2 bench ARGS --json FILE --quiet` must succeed; returns the JSON it wrote and its output.
    private (JsonNode Root, string Stdout, string Stderr) BenchJson(string file, params string[] args)
    {
        string json = Path.Combine(_temp, file);
        var (code, stdout, stderr) = Cli(["bench", .. args, "--json", json, "--quiet"]);
        Assert.True(code == 0, stderr);
        return (JsonNode.Parse(File.ReadAllText(json))!, stdout, stderr);
    }

    private static (int Code, string Stdout, string Stderr) Cli(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "sjd2.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("could not start dotnet");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(120_000))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"sjd2 {string.Join(' ', args)} did not finish in 120 s");
        }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}
