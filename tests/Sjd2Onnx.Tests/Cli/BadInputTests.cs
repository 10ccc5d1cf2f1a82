using System.Text.Json.Nodes;
using Sjd2Onnx.Tests.Support;

namespace Sjd2Onnx.Tests;

/// <summary>
/// Everything a user can get wrong ends in one line on stderr starting with "sjd2: error:", a
/// non-zero exit code, no stack trace and no output file; the library throws a one-line
/// <see cref="Sjd2Exception"/> for the same problems.
/// </summary>
public class BadInputTests
{
    private const string Prompt = "a red circle";

    /// <summary>A broken model folder: name → (build it in a temp dir, a word the message must contain).</summary>
    private static readonly Dictionary<string, (Func<TempDir, string> Build, string Expect)> BrokenModels = new()
    {
        ["missing folder"] = (t => t.File("no-such-model"), "does not exist"),
        ["folder without model.json"] = (t => { var d = t.File("empty"); Directory.CreateDirectory(d); return d; }, "model.json"),
        ["unreadable model.json"] = (Unreadable, "model.json"),
        ["malformed json"] = (t => WithManifestText(t, "{ \"format\": \"sjd2onnx-model\", format_version: 1 }"), "not valid JSON"),
        ["truncated json"] = (t => WithManifestText(t, TinyManifestText()[..(TinyManifestText().Length * 3 / 5)]), "not valid JSON"),
        ["empty model.json"] = (t => WithManifestText(t, ""), "not valid JSON"),
        ["json array"] = (t => WithManifestText(t, "[1, 2]"), "object"),
        ["wrong format"] = (t => WithManifest(t, j => j["format"] = "some-other-format"), "format"),
        ["wrong format_version"] = (t => WithManifest(t, j => j["format_version"] = 2), "format_version"),
        ["format_version as string"] = (t => WithManifest(t, j => j["format_version"] = "1"), "format_version"),
        ["missing transformer section"] = (t => WithManifest(t, j => j.AsObject().Remove("transformer")), "transformer"),
        ["missing codebook_size"] = (t => WithManifest(t, j => j["image"]!.AsObject().Remove("codebook_size")), "codebook_size"),
        ["missing graphs.vq_decoder"] = (t => WithManifest(t, j => j["graphs"]!.AsObject().Remove("vq_decoder")), "vq_decoder"),
        ["hidden_size zero"] = (t => WithManifest(t, j => j["transformer"]!["hidden_size"] = 0), "hidden_size"),
        ["hidden_size not matching graphs"] = (t => WithManifest(t, j => j["transformer"]!["hidden_size"] = 32, "micro"), "graph"),
        ["num_layers not matching the transformer"] = (t => WithManifest(t, j => j["transformer"]!["num_layers"] = 3, "micro"), "transformer"),
        ["unknown tokenizer type"] = (t => WithManifest(t, j => j["tokenizer"]!["type"] = "magic"), "tokenizer.type"),
        ["graph path outside the folder"] = (OutsidePath, "outside"),
        ["unknown weight format"] = (t => WithManifest(t, j => j["weights"] = new JsonObject { ["format"] = "int3" }), "'weights.format' is 'int3'"),
        ["absolute graph path"] = (t => WithManifest(t, j => j["graphs"]!["transformer"] = Path.Combine(TestPaths.Model("tiny"), "transformer.onnx")), "absolute"),
        ["tokenizer path outside the folder"] = (t => WithManifest(t, j => j["tokenizer"]!["vocab"] = "../../vocab.txt"), "outside"),
        ["graph file missing"] = (t => WithManifest(t, j => j["graphs"]!["vq_decoder"] = "nothing-here.onnx"), "nothing-here.onnx"),
        ["graph file not onnx"] = (t => { var d = t.CopyModel("tiny"); File.WriteAllText(Path.Combine(d, "vq_decoder.onnx"), "not a model"); return d; }, "vq_decoder"),
        ["transformer swapped for the vq decoder"] = (t => { var d = t.CopyModel("tiny"); File.Copy(Path.Combine(d, "vq_decoder.onnx"), Path.Combine(d, "transformer.onnx"), true); return d; }, "its inputs: codes int64[?,4,4]"),
        ["transformer of another model"] = (t => SwapGraph(t, "tiny", "micro", "transformer.onnx"), "output 'logits' has size 5 in dimension 2, the manifest says 64"),
        ["graphs.transformer names another graph"] = (t => WithManifest(t, j => j["graphs"]!["transformer"] = "image_embedding.onnx"), "transformer"),
        ["sjd2 section but no noise_levels input"] = (t => SwapGraph(t, "micro-sjd2", "micro", "transformer.onnx"), "noise_levels"),
        ["noise_levels input but no sjd2 section"] = (t => WithManifest(t, j => j["sjd2"] = null), "noise_levels"),
        ["codebook size not matching the transformer"] = (t => WithManifest(t, j => j["image"]!["codebook_size"] = 65), "logits"),
        ["grid not matching the vq decoder"] = (t => WithManifest(t, j => j["image"]!["grid_width"] = 5), "vq_decoder"),
        ["vocabulary larger than the text-embedding table"] = (t => { var d = t.CopyModel("tiny"); File.AppendAllLines(Path.Combine(d, "vocab.txt"), Enumerable.Range(0, 5000).Select(i => $"extra{i}")); return d; }, "vocabulary"),
        ["prompt_prefix_ids outside the table"] = (t => WithManifest(t, j => j["sequence"]!["prompt_prefix_ids"] = new JsonArray(1, 100000)), "prompt_prefix_ids has token id 100000"),
        ["begin_of_image_ids outside the table"] = (t => WithManifest(t, j => j["sequence"]!["begin_of_image_ids"] = new JsonArray(70000)), "begin_of_image_ids"),
        ["pad_id outside the table"] = (t => WithManifest(t, j => { j["cfg"]!["unconditional"] = "pad_prompt"; j["cfg"]!["pad_id"] = 99999; }), "pad_id"),
        ["vocab symlinked outside the folder"] = (t => LinkOutside(t, "vocab.txt"), "symbolic link"),
        ["graph symlinked outside the folder"] = (t => LinkOutside(t, "vq_decoder.onnx"), "symbolic link"),
        ["model.json symlinked outside the folder"] = (t => LinkOutside(t, "model.json"), "symbolic link"),
        ["subfolder symlinked outside the folder"] = (LinkedSubfolder, "symbolic link"),
        // Files that would block the loader or exhaust memory: refused before they are opened or read.
        ["model.json is a FIFO"] = (t => WithSpecialFile(t, "model.json", fifo: true), "FIFO"),
        ["vocab.txt is a FIFO"] = (t => WithSpecialFile(t, "vocab.txt", fifo: true), "FIFO"),
        ["graph is a FIFO"] = (t => WithSpecialFile(t, "vq_decoder.onnx", fifo: true), "FIFO"),
        ["model.json of 2 GiB"] = (t => WithSpecialFile(t, "model.json", fifo: false), "2 GiB"),
        ["vocab.txt of 2 GiB"] = (t => WithSpecialFile(t, "vocab.txt", fifo: false), "2 GiB"),
        ["sjd2 statistics of the wrong length"] = (t => WithManifest(t, j => j["sjd2"]!["embedding_std"] = new JsonArray(1, 2, 3)), "embedding_std"),
    };

    public static TheoryData<string> BrokenModelNames() => new(BrokenModels.Keys);

    [Theory]
    [MemberData(nameof(BrokenModelNames))]
    public void CliRefusesBrokenModel(string name)
    {
        using var temp = new TempDir();
        var (build, expect) = BrokenModels[name];
        string model = build(temp);
        string outDir = NewOutDir(temp);
        var r = Sjd2Cli.Run("generate", Prompt, "--out", Path.Combine(outDir, "a.png"), "--model", model);
        AssertOneLineError(r, expect, outDir, name, BrokenModelExitCode(name));
    }

    /// <summary>A --model that is not a folder is a usage error (2); a folder that is not a usable model a run-time failure (1).</summary>
    private static int BrokenModelExitCode(string name) => name == "missing folder" ? 2 : 1;

    [Theory]
    [MemberData(nameof(BrokenModelNames))]
    public void LibraryRefusesBrokenModel(string name)
    {
        using var temp = new TempDir();
        var (build, expect) = BrokenModels[name];
        string model = build(temp);
        var e = Assert.Throws<Sjd2Exception>(() => { using var p = Sjd2Pipeline.Load(model); });
        AssertOneLine(e.Message, expect);
    }

    [Theory]
    [InlineData("info")]
    [InlineData("parity")]
    public void OtherCommandsRefuseBrokenModelsToo(string command)
    {
        using var temp = new TempDir();
        foreach (var name in new[] { "missing folder", "truncated json", "transformer swapped for the vq decoder" })
        {
            var (build, expect) = BrokenModels[name];
            var r = Sjd2Cli.Run(command, "--model", build(temp));
            AssertOneLineError(r, expect, null, $"{command}, {name}", BrokenModelExitCode(name));
        }
    }

    [Theory]
    [InlineData("missing parity.json", "parity.json")]
    [InlineData("malformed parity.json", "parity.json")]
    [InlineData("parity.json without cases", "parity.json")]
    [InlineData("parity case naming an unknown input", "parity.json")]
    public void ParityRefusesBrokenReferences(string name, string expect)
    {
        using var temp = new TempDir();
        string dir = temp.CopyModel("tiny");
        string path = Path.Combine(dir, "parity.json");
        switch (name)
        {
            case "missing parity.json": File.Delete(path); break;
            case "malformed parity.json": File.WriteAllText(path, File.ReadAllText(path)[..500]); break;
            case "parity.json without cases": File.WriteAllText(path, "{\"tolerance\": 0.0001}"); break;
            case "parity case naming an unknown input":
                var root = JsonNode.Parse(File.ReadAllText(path))!;
                var inputs = root["cases"]![0]!["inputs"]!.AsObject();
                var first = inputs.First();
                inputs.Remove(first.Key);
                inputs["no_such_input"] = first.Value!.DeepClone();
                File.WriteAllText(path, root.ToJsonString());
                break;
        }
        var r = Sjd2Cli.Run("parity", "--model", dir);
        AssertOneLineError(r, expect, null, name, 1);
    }

    /// <summary>Name → (arguments, a word the one-line message must contain, exit code: 2 usage error, 1 run-time failure).</summary>
    public static TheoryData<string, string[], string, int> BadOptions() => new()
    {
        { "empty prompt", ["generate", "", "--out", "{out}", "--model", "{tiny}"], "prompt", 2 },
        { "blank prompt", ["generate", "   ", "--out", "{out}", "--model", "{tiny}"], "prompt", 2 },
        { "prompt too long", ["generate", string.Join(' ', Enumerable.Repeat("red", 25)), "--out", "{out}", "--model", "{tiny}"], "24", 2 },
        { "no prompt", ["generate", "--out", "{out}", "--model", "{tiny}"], "prompt", 2 },
        { "two prompts", ["generate", "a", "b", "--out", "{out}", "--model", "{tiny}"], "prompt", 2 },
        { "no --out", ["generate", Prompt, "--model", "{tiny}"], "--out", 2 },
        { "top-k negative", ["generate", Prompt, "--out", "{out}", "--model", "{tiny}", "--top-k", "-3"], "top-k", 2 },
        { "top-k not a number", ["generate", Prompt, "--out", "{out}", "--model", "{tiny}", "--top-k", "many"], "--top-k must be an integer, got 'many'", 2 },
        { "top-p 0", ["generate", Prompt, "--out", "{out}", "--model", "{tiny}", "--top-p", "0"], "top-p", 2 },
        { "threads 0", ["generate", Prompt, "--out", "{out}", "--model", "{tiny}", "--threads", "0"], "--threads must be between 1 and", 2 },
        { "threads past the processors", ["generate", Prompt, "--out", "{out}", "--model", "{tiny}", "--threads", "1024"], "(the processors this process may use), got 1024", 2 },
        { "threads not a number", ["generate", Prompt, "--out", "{out}", "--model", "{tiny}", "--threads", "all"], "--threads must be an integer, got 'all'", 2 },
        { "tf32 not on or off", ["generate", Prompt, "--out", "{out}", "--model", "{tiny}", "--tf32", "maybe"], "unknown --tf32 'maybe'; use on or off", 2 },
        { "top-p 1.5", ["generate", Prompt, "--out", "{out}", "--model", "{tiny}", "--top-p", "1.5"], "top-p", 2 },
        { "top-p NaN", ["generate", Prompt, "--out", "{out}", "--model", "{tiny}", "--top-p", "NaN"], "top-p", 2 },
        { "cfg NaN", ["generate", Prompt, "--out", "{out}", "--model", "{tiny}", "--cfg", "NaN"], "cfg", 2 },
        { "cfg infinity", ["generate", Prompt, "--out", "{out}", "--model", "{tiny}", "--cfg", "Infinity"], "cfg", 2 },
        { "cfg 1e30", ["generate", Prompt, "--out", "{out}", "--model", "{tiny}", "--cfg", "1e30"], "--cfg must be a number in [-100, 100]", 2 },
        { "cfg not a number", ["generate", Prompt, "--out", "{out}", "--model", "{tiny}", "--cfg", "three"], "--cfg must be a number, got 'three'", 2 },
        { "temperature 0", ["generate", Prompt, "--out", "{out}", "--model", "{tiny}", "--temperature", "0"], "temperature", 2 },
        { "temperature -1", ["generate", Prompt, "--out", "{out}", "--model", "{tiny}", "--temperature", "-1"], "temperature", 2 },
        { "temperature 1e30", ["generate", Prompt, "--out", "{out}", "--model", "{tiny}", "--temperature", "1e30"], "temperature must be in [0.001, 100]", 2 },
        { "count 0", ["generate", Prompt, "--out", "{out}", "--model", "{tiny}", "--count", "0"], "--count must be between 1 and 10000, got 0", 2 },
        { "seed negative", ["generate", Prompt, "--out", "{out}", "--model", "{tiny}", "--seed", "-1"], "--seed must be an integer from 0", 2 },
        { "seed past the largest with --count", ["generate", Prompt, "--out", "{out}", "--model", "{tiny}", "--seed", "18446744073709551615", "--count", "2"], "runs past the largest seed", 2 },
        { "unknown ep", ["generate", Prompt, "--out", "{out}", "--model", "{tiny}", "--ep", "tpu"], "unknown execution provider 'tpu'", 2 },
        { "cuda on the CPU package", ["generate", Prompt, "--out", "{out}", "--model", "{tiny}", "--ep", "cuda"], "Microsoft.ML.OnnxRuntime.Gpu", 1 },
        { "directml on the CPU package", ["generate", Prompt, "--out", "{out}", "--model", "{tiny}", "--ep", "dml"], "Microsoft.ML.OnnxRuntime.DirectML", 1 },
        { "info with cuda", ["info", "--model", "{tiny}", "--ep", "cuda"], "Microsoft.ML.OnnxRuntime.Gpu", 1 },
        { "model is a file", ["generate", Prompt, "--out", "{out}", "--model", "{tiny}/model.json"], "is a file", 2 },
        { "output folder missing", ["generate", Prompt, "--out", "{outdir}/no/such/folder/a.png", "--model", "{tiny}"], "does not exist", 2 },
        { "output folder is a file", ["generate", Prompt, "--out", "{tiny}/model.json/a.png", "--model", "{tiny}"], "is a file, not a folder", 2 },
        { "output is a folder", ["generate", Prompt, "--out", "{outdir}", "--model", "{tiny}"], "folder", 2 },
        { "output named .jpg", ["generate", Prompt, "--out", "{outdir}/a.jpg", "--model", "{tiny}"], "with .png", 2 },
        { "standard output with --count", ["generate", Prompt, "--out", "-", "--count", "2", "--model", "{tiny}"], "--out -", 2 },
        { "unknown option", ["generate", Prompt, "--out", "{out}", "--model", "{tiny}", "--colour", "red"], "has no option --colour", 2 },
        { "unknown option first", ["generate", "--colour", "red", Prompt, "--out", "{out}", "--model", "{tiny}"], "has no option --colour", 2 },
        { "unknown flag on info", ["info", "--model", "{tiny}", "--loud"], "'info' has no option --loud", 2 }, // --verbose is an option (ONNX Runtime's log)
        { "positional on info", ["info", "extra", "--model", "{tiny}"], "'info' takes no positional argument (got 'extra')", 2 },
        { "option before the command", ["--seed", "1", "generate", Prompt, "--out", "{out}", "--model", "{tiny}"], "--seed", 2 },
        { "switch given no", ["generate", Prompt, "--out", "{out}", "--model", "{tiny}", "--quiet=no"], "--quiet is a switch", 2 },
        { "option given twice", ["generate", Prompt, "--out", "{out}", "--model", "{tiny}", "--seed", "1", "--seed", "2"], "--seed", 2 },
        { "option without value", ["generate", Prompt, "--out", "{out}", "--model", "{tiny}", "--seed"], "--seed", 2 },
        { "unknown method", ["generate", Prompt, "--out", "{out}", "--model", "{tiny}", "--method", "telepathy"], "unknown --method 'telepathy'", 2 },
        { "unknown command", ["paint", Prompt], "unknown command 'paint'", 2 },
        { "help for an unknown command", ["help", "paint"], "unknown command 'paint'", 2 },
        { "missing response file", ["generate", "@{outdir}/none.rsp"], "none.rsp", 2 },
        // Response files and prompt files: bounded, regular, no cycles (each used to hang or crash).
        { "response file that includes itself", ["@{selfrsp}"], "includes itself", 2 },
        { "response files that include each other", ["generate", "@{cyclersp}"], "includes itself", 2 },
        { "response files nested too deep", ["@{deeprsp}"], "nest more than 8 deep", 2 },
        { "response file is a folder", ["@{outdir}"], "is a folder", 2 },
        { "response file is the current folder", ["@."], "is a folder", 2 },
        { "response file is a FIFO", ["@{fifo}"], "FIFO", 2 },
        { "response file of 2 GiB", ["@{hugefile}"], "2 GiB", 2 },
        { "bench --prompts is a FIFO", ["bench", "--model", "{tiny}", "--methods", "ar", "--prompts", "{fifo}", "--seeds", "1"], "FIFO", 2 },
        { "bench --prompts of 2 GiB", ["bench", "--model", "{tiny}", "--methods", "ar", "--prompts", "{hugefile}", "--seeds", "1"], "2 GiB", 2 },
        { "eval --prompts is a FIFO", ["eval", "--prompts", "{fifo}"], "FIFO", 2 },
        { "serve on a port past 65535", ["serve", "--model", "{tiny}", "--urls", "http://127.0.0.1:99999"], "port '99999'", 2 },
        { "serve on an address without scheme", ["serve", "--model", "{tiny}", "--urls", "127.0.0.1:5000"], "http://", 2 },
        { "serve on an ftp address", ["serve", "--model", "{tiny}", "--urls", "ftp://127.0.0.1:5000"], "scheme ftp", 2 },
        // Outputs: refused before any work, nothing replaced.
        { "--out is /dev/null", ["generate", Prompt, "--out", "/dev/null", "--model", "{tiny}"], "character device", 2 },
        { "--out links to /dev/null", ["generate", Prompt, "--out", "{nulllink}", "--model", "{tiny}"], "character device", 2 },
        { "--out is a FIFO", ["generate", Prompt, "--out", "{fifo}", "--model", "{tiny}"], "FIFO", 2 },
        { "--out name too long", ["generate", Prompt, "--out", "{outdir}/" + new string('n', 252) + ".png", "--model", "{tiny}"], "256 bytes", 2 },
        { "--out under a file", ["generate", Prompt, "--out", "{file}/a.png", "--model", "{tiny}"], "is a file", 2 },
        { "--out in an unwritable folder", ["generate", Prompt, "--out", "/proc/sjd2-a.png", "--model", "{tiny}"], "cannot write", 2 },
        { "--out count 2 in an unwritable folder", ["generate", Prompt, "--out", "/proc/sjd2-a.png", "--count", "2", "--model", "{tiny}"], "cannot write", 2 },
        { "--trace in an unwritable folder", ["generate", Prompt, "--out", "{out}", "--trace", "/proc/sjd2-trace", "--model", "{tiny}"], "--trace", 2 },
        { "--trace is a file", ["generate", Prompt, "--out", "{out}", "--trace", "{file}", "--model", "{tiny}"], "--trace", 2 },
        { "--trace holds other files", ["generate", Prompt, "--out", "{out}", "--trace", "{foreign}", "--model", "{tiny}"], "notes.txt", 2 },
        { "bench --json in an unwritable folder", ["bench", "--model", "{tiny}", "--methods", "ar", "--prompts", "1", "--seeds", "1", "--json", "/proc/sjd2-bench.json"], "--json", 2 },
        { "bench --json is /dev/null", ["bench", "--model", "{tiny}", "--methods", "ar", "--prompts", "1", "--seeds", "1", "--json", "/dev/null"], "character device", 2 },
        { "bench --json is a folder", ["bench", "--model", "{tiny}", "--methods", "ar", "--prompts", "1", "--seeds", "1", "--json", "{outdir}"], "folder", 2 },
        { "eval --json in an unwritable folder", ["eval", "--prompts", "1", "--json", "/proc/sjd2-eval.json"], "--json", 2 },
        // Prompts that tokenize to nothing the model knows.
        { "prompt of unknown words", ["generate", "zyxwv qqqq", "--out", "{out}", "--model", "{tiny}"], "no word this model knows", 2 },
        { "prompt with an unknown word", ["generate", "a pink star", "--out", "{out}", "--model", "{tiny}"], "a word this model does not know: 'pink'", 2 },
        { "right-to-left prompt", ["generate", "עיגול אדום", "--out", "{out}", "--model", "{tiny}"], "no word this model knows", 2 },
        { "prompt of symbols", ["generate", "\u200b ¤ ¤", "--out", "{out}", "--model", "{tiny}"], "no word this model knows", 2 },
        { "control characters", ["generate", "a red\u0007circle", "--out", "{out}", "--model", "{tiny}"], "U+0007", 2 },
        { "bench prompt file with an unknown-word prompt", ["bench", "--model", "{tiny}", "--methods", "ar", "--prompts", "{promptfile}", "--seeds", "1"], "no word this model knows", 2 },
    };

    [Theory]
    [MemberData(nameof(BadOptions))]
    public void CliRefusesBadOptions(string name, string[] args, string expect, int exitCode)
    {
        if (OperatingSystem.IsWindows() && args.Any(a => a.StartsWith("/dev/") || a.StartsWith("/proc/") || a is "{fifo}" or "@{fifo}" or "{nulllink}")) return;
        using var temp = new TempDir();
        string outDir = NewOutDir(temp);
        var resolved = args.Select(a => Resolve(a, temp, outDir)).ToArray();
        var before = Snapshot(outDir);
        var r = Sjd2Cli.Run(resolved);
        AssertOneLineError(r, expect, null, name, exitCode);
        Assert.Equal(before, Snapshot(outDir)); // nothing created, changed or removed
        Assert.Equal("a character device", Sjd2Onnx.Imaging.FileKind.Describe("/dev/null"));
    }

    // Placeholders build the fixture the case needs inside the output folder (whose state is then compared).
    private static string Resolve(string arg, TempDir temp, string outDir)
    {
        switch (arg)
        {
            case "{fifo}":
                OutputFileTests.MakeFifo(Path.Combine(outDir, "pipe.png"));
                return Path.Combine(outDir, "pipe.png");
            case "{nulllink}":
                File.CreateSymbolicLink(Path.Combine(outDir, "null.png"), "/dev/null");
                return Path.Combine(outDir, "null.png");
            case "{foreign}":
                Directory.CreateDirectory(Path.Combine(outDir, "trace"));
                File.WriteAllText(Path.Combine(outDir, "trace", "notes.txt"), "mine");
                File.WriteAllText(Path.Combine(outDir, "trace", "pass-001.png"), "old");
                return Path.Combine(outDir, "trace");
            case "{selfrsp}":
                File.WriteAllLines(Path.Combine(outDir, "self.rsp"), ["generate", "@" + Path.Combine(outDir, "self.rsp")]);
                return "@" + Path.Combine(outDir, "self.rsp");
            case "@{selfrsp}":
                return Resolve("{selfrsp}", temp, outDir);
            case "@{cyclersp}":
                File.WriteAllText(Path.Combine(outDir, "a.rsp"), $"\"a red circle\"\n@{Path.Combine(outDir, "b.rsp")}\n");
                File.WriteAllText(Path.Combine(outDir, "b.rsp"), $"--seed 3\n@{Path.Combine(outDir, "a.rsp")}\n");
                return "@" + Path.Combine(outDir, "a.rsp");
            case "@{deeprsp}":
                for (int i = 0; i < 12; i++) File.WriteAllText(Path.Combine(outDir, $"{i}.rsp"), i == 11 ? "info" : "@" + Path.Combine(outDir, $"{i + 1}.rsp"));
                return "@" + Path.Combine(outDir, "0.rsp");
            case "@{fifo}":
                OutputFileTests.MakeFifo(Path.Combine(outDir, "args.rsp"));
                return "@" + Path.Combine(outDir, "args.rsp");
            case "@{hugefile}":
                return "@" + Resolve("{hugefile}", temp, outDir);
            case "{hugefile}":
                using (var huge = File.Create(Path.Combine(outDir, "huge.txt"))) huge.SetLength(2L << 30); // sparse: no disk used
                return Path.Combine(outDir, "huge.txt");
            case "{promptfile}":
                File.WriteAllLines(temp.File("prompts.txt"), ["a red circle", "zyxwv qqqq"]);
                return temp.File("prompts.txt");
        }
        if (arg.Contains("{file}")) File.WriteAllText(Path.Combine(outDir, "file"), "keep");
        return arg
            .Replace("{file}", Path.Combine(outDir, "file"))
            .Replace("{out}", Path.Combine(outDir, "a.png"))
            .Replace("{outdir}", outDir)
            .Replace("{tiny}", TestPaths.Model("tiny"));
    }

    /// <summary>The tiny model with <paramref name="name"/> replaced by a FIFO, or by a sparse file of 2 GiB.</summary>
    private static string WithSpecialFile(TempDir t, string name, bool fifo)
    {
        string dir = t.CopyModel("tiny");
        string path = Path.Combine(dir, name);
        File.Delete(path);
        if (fifo) OutputFileTests.MakeFifo(path);
        else using (var huge = File.Create(path)) huge.SetLength(2L << 30);
        return dir;
    }

    /// <summary>Every entry under a folder with its kind, size and write time.</summary>
    internal static string[] Snapshot(string dir) =>
        [.. Directory.EnumerateFileSystemEntries(dir, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Select(p =>
        {
            var info = new FileInfo(p);
            return info.LinkTarget is { } link ? $"{p} -> {link}"
                : Directory.Exists(p) ? $"{p}/"
                : $"{p} {Sjd2Onnx.Imaging.FileKind.Describe(p)} {(Sjd2Onnx.Imaging.FileKind.IsRegularFile(p) ? info.Length : 0)} {info.LastWriteTimeUtc:O}";
        })];

    [Fact]
    public async Task LibraryRefusesBadGenerationInputs()
    {
        using var pipeline = Sjd2Pipeline.Load(TestPaths.Model("tiny"));
        async Task Refuses(string prompt, GenerationOptions options, string expect)
        {
            var e = await Assert.ThrowsAsync<Sjd2Exception>(() => pipeline.GenerateAsync(prompt, options));
            AssertOneLine(e.Message, expect);
        }
        await Refuses("", new(), "prompt");
        await Refuses(" \t ", new(), "prompt");
        await Refuses(string.Join(' ', Enumerable.Repeat("blue", 25)), new(), "24");
        await Refuses(Prompt, new() { Sampling = new() { Temperature = 0 } }, "temperature");
        await Refuses(Prompt, new() { Sampling = new() { Temperature = -1 } }, "temperature");
        await Refuses(Prompt, new() { Sampling = new() { Temperature = float.NaN } }, "temperature");
        await Refuses(Prompt, new() { Sampling = new() { TopP = 0 } }, "top_p");
        await Refuses(Prompt, new() { Sampling = new() { TopP = 1.5f } }, "top_p");
        await Refuses(Prompt, new() { Sampling = new() { TopK = -1 } }, "top_k");
        await Refuses(Prompt, new() { Sampling = new() { CfgScale = float.NaN } }, "cfg");
        Assert.Equal("method", SettingError.KeyOf(Assert.Throws<Sjd2Exception>(() => SettingsBinder.Bind(new(), [new("method", "telepathy")]))));
        await Refuses("zyxwv qqqq", new(), "no word this model knows");
        await Refuses("עיגול אדום", new(), "no word this model knows");
        await Refuses("a red\u0001circle", new(), "U+0001");
        await Refuses("a pink circle", new(), "a word this model does not know: 'pink'");
        Assert.Throws<Sjd2Exception>(() => pipeline.Tokenize("\u200b"));
        // Sanity: the same pipeline still works afterwards.
        var ok = await pipeline.GenerateAsync(Prompt, new() { Seed = 1 });
        Assert.Equal(16, ok.Codes.Length);
    }

    [Theory]
    [InlineData(ExecutionProvider.Cuda, "Microsoft.ML.OnnxRuntime.Gpu")]
    [InlineData(ExecutionProvider.DirectML, "Microsoft.ML.OnnxRuntime.DirectML")]
    public void LibraryNamesTheMissingNativePackage(ExecutionProvider provider, string package)
    {
        var e = Assert.Throws<Sjd2Exception>(() => { using var p = Sjd2Pipeline.Load(TestPaths.Model("tiny"), new PipelineOptions { Provider = provider }); });
        AssertOneLine(e.Message, package);
    }

    // ---- helpers --------------------------------------------------------------------------

    private static string NewOutDir(TempDir temp)
    {
        string outDir = temp.File("out");
        Directory.CreateDirectory(outDir);
        return outDir;
    }

    private static void AssertOneLineError(Sjd2Cli.Result r, string expect, string? outDir, string? what, int exitCode)
    {
        string context = $"{what}\n{r}";
        Assert.True(r.ExitCode == exitCode, $"exit code {r.ExitCode}, expected {exitCode}: {context}");
        var lines = r.StderrLines;
        Assert.True(lines.Length == 1, $"expected exactly one stderr line, got {lines.Length}: {context}");
        Assert.StartsWith("sjd2: error:", lines[0]);
        Assert.DoesNotContain("   at ", r.Stderr);
        Assert.DoesNotContain("   at ", r.Stdout);
        Assert.DoesNotContain("Exception", r.Stderr);
        Assert.True(lines[0].Contains(expect, StringComparison.OrdinalIgnoreCase), $"message should mention '{expect}': {context}");
        if (outDir is not null)
        {
            var left = Directory.Exists(outDir) ? Directory.GetFileSystemEntries(outDir, "*", SearchOption.AllDirectories) : [];
            Assert.True(left.Length == 0, $"left behind: {string.Join(", ", left)}; {context}");
        }
    }

    private static void AssertOneLine(string message, string expect)
    {
        Assert.DoesNotContain('\n', message);
        Assert.DoesNotContain('\r', message);
        Assert.True(message.Contains(expect, StringComparison.OrdinalIgnoreCase), $"message should mention '{expect}': {message}");
    }

    private static string TinyManifestText() => ManifestText("tiny");

    private static string ManifestText(string model) => File.ReadAllText(Path.Combine(TestPaths.Model(model), "model.json"));

    private static string WithManifestText(TempDir t, string text, string model = "tiny")
    {
        string dir = t.CopyModel(model);
        File.WriteAllText(Path.Combine(dir, "model.json"), text);
        return dir;
    }

    private static string WithManifest(TempDir t, Action<JsonNode> edit, string model = "tiny")
    {
        var json = JsonNode.Parse(ManifestText(model))!;
        edit(json);
        return WithManifestText(t, json.ToJsonString(), model);
    }

    private static string SwapGraph(TempDir t, string model, string graphFrom, string graph)
    {
        string d = t.CopyModel(model);
        File.Copy(Path.Combine(TestPaths.Model(graphFrom), graph), Path.Combine(d, graph), true);
        return d;
    }

    // The file is replaced by a link to an identical copy outside the folder: only the link rule can refuse it.
    private static string LinkOutside(TempDir t, string file)
    {
        string d = t.CopyModel("tiny");
        string outside = t.File("outside-" + file);
        File.Move(Path.Combine(d, file), outside);
        File.CreateSymbolicLink(Path.Combine(d, file), outside);
        return d;
    }

    private static string LinkedSubfolder(TempDir t)
    {
        string d = t.CopyModel("tiny");
        string outside = t.File("outside-folder");
        Directory.CreateDirectory(outside);
        File.Copy(Path.Combine(d, "vocab.txt"), Path.Combine(outside, "vocab.txt"));
        Directory.CreateSymbolicLink(Path.Combine(d, "sub"), outside);
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(d, "model.json")))!;
        json["tokenizer"]!["vocab"] = "sub/vocab.txt";
        File.WriteAllText(Path.Combine(d, "model.json"), json.ToJsonString());
        return d;
    }

    private static string OutsidePath(TempDir t)
    {
        // The file exists (beside the model folder): only the path rule can refuse it.
        File.Copy(Path.Combine(TestPaths.Model("tiny"), "transformer.onnx"), t.File("x.onnx"));
        return WithManifest(t, j => j["graphs"]!["transformer"] = "../x.onnx");
    }

    private static string Unreadable(TempDir t)
    {
        string dir = t.CopyModel("tiny");
        string path = Path.Combine(dir, "model.json");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.None);
            try { File.ReadAllText(path); }
            catch (UnauthorizedAccessException) { return dir; } // really unreadable
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        // Running as root (or on Windows) the file stays readable: stand in with unreadable content.
        File.WriteAllBytes(path, [0xFF, 0xFE, 0x00, 0x7B, 0xC3]);
        return dir;
    }
}
