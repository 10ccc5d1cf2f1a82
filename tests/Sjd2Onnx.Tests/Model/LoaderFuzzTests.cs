using System.Text;
using System.Text.Json.Nodes;
using Sjd2Onnx.Tests.Support;
using Xunit.Abstractions;

namespace Sjd2Onnx.Tests;

/// <summary>
/// Seeded fuzzing of the model loader: mutated model.json files (types, ranges, missing and extra
/// fields, huge numbers, path tricks, broken text) and mutated graph and tokenizer files
/// (truncations, byte flips). Every case must end in a <see cref="Sjd2Exception"/> or a generated
/// image, within a bounded time. CI runs a small slice; the full run is
/// <c>SJD2_FUZZ_MANIFEST=10000 SJD2_FUZZ_FILES=200 dotnet test --filter LoaderFuzzTests</c>
/// (SJD2_FUZZ_SEED picks another seed; see docs/engineering-notes.md).
/// </summary>
public sealed class LoaderFuzzTests(ITestOutputHelper output)
{
    private static readonly TimeSpan PerCase = TimeSpan.FromSeconds(60);

    [Fact]
    public void MutatedManifestsEndInOneLineErrorsOrImages()
    {
        int count = Setting("SJD2_FUZZ_MANIFEST", 200);
        var rng = new Random(Setting("SJD2_FUZZ_SEED", 10));
        using var temp = new TempDir();
        string dir = temp.CopyModel("tiny");
        string manifestPath = Path.Combine(dir, "model.json");
        string original = File.ReadAllText(manifestPath);
        var outcomes = new Dictionary<string, int>();
        var failures = new List<string>();
        for (int i = 0; i < count; i++)
        {
            var (text, what) = MutateManifest(original, rng);
            File.WriteAllText(manifestPath, text);
            Record(RunCase(dir, i), what, i, outcomes, failures);
        }
        Report(outcomes, failures, count);
    }

    [Fact]
    public void MutatedGraphAndTokenizerFilesEndInOneLineErrorsOrImages()
    {
        int count = Setting("SJD2_FUZZ_FILES", 20);
        var rng = new Random(Setting("SJD2_FUZZ_SEED", 10) + 1);
        using var temp = new TempDir();
        string source = TestPaths.Model("tiny");
        string[] files = ["text_embedding.onnx", "image_embedding.onnx", "transformer.onnx", "vq_decoder.onnx", "vocab.txt"];
        var outcomes = new Dictionary<string, int>();
        var failures = new List<string>();
        for (int i = 0; i < count; i++)
        {
            string dir = temp.CopyModel("tiny", $"case-{i}");
            string file = files[rng.Next(files.Length)];
            var bytes = File.ReadAllBytes(Path.Combine(source, file));
            var (mutated, how) = MutateBytes(bytes, rng);
            File.WriteAllBytes(Path.Combine(dir, file), mutated);
            Record(RunCase(dir, i), $"{file}: {how}", i, outcomes, failures);
            Directory.Delete(dir, recursive: true);
        }
        Report(outcomes, failures, count);
    }

    /// <summary>
    /// Every file of the folder as a FIFO, and every file read whole as a sparse 2 GiB file: each is
    /// refused by kind or size before it is opened or read (a FIFO used to block the loader forever,
    /// a 2 GiB file to end in OutOfMemoryException).
    /// </summary>
    [Fact]
    public void SpecialAndHugeFilesEndInOneLineErrors()
    {
        if (OperatingSystem.IsWindows()) return; // FIFOs are made with mkfifo
        using var temp = new TempDir();
        string[] graphs = ["text_embedding.onnx", "image_embedding.onnx", "transformer.onnx", "vq_decoder.onnx"];
        var cases = new List<(string File, bool Fifo)>();
        foreach (var file in graphs.Append("vocab.txt").Append("model.json")) cases.Add((file, true));
        foreach (var file in new[] { "vocab.txt", "model.json" }) cases.Add((file, false));
        var outcomes = new Dictionary<string, int>();
        var failures = new List<string>();
        for (int i = 0; i < cases.Count; i++)
        {
            var (file, fifo) = cases[i];
            string dir = temp.CopyModel("tiny", $"special-{i}");
            string path = Path.Combine(dir, file);
            File.Delete(path);
            if (fifo) OutputFileTests.MakeFifo(path);
            else using (var huge = File.Create(path)) huge.SetLength(2L << 30);
            string outcome = RunCase(dir, i);
            Record(outcome == "image" ? "FAIL: loaded" : outcome, $"{file} as {(fifo ? "a FIFO" : "2 GiB")}", i, outcomes, failures);
        }
        Report(outcomes, failures, cases.Count);
        Assert.Equal(cases.Count, outcomes.GetValueOrDefault("Sjd2Exception"));
    }

    private void Report(Dictionary<string, int> outcomes, List<string> failures, int count)
    {
        output.WriteLine($"{count} cases: " + string.Join(", ", outcomes.OrderByDescending(p => p.Value).Select(p => $"{p.Key} {p.Value}")));
        foreach (var f in failures.Take(20)) output.WriteLine(f);
        Assert.True(failures.Count == 0, $"{failures.Count} of {count} cases ended otherwise; first: {failures.FirstOrDefault()}");
    }

    private static void Record(string outcome, string what, int i, Dictionary<string, int> outcomes, List<string> failures)
    {
        string kind = outcome.StartsWith("FAIL", StringComparison.Ordinal) ? "failure" : outcome;
        outcomes[kind] = outcomes.GetValueOrDefault(kind) + 1;
        if (kind == "failure") failures.Add($"case {i} ({what}): {outcome}");
    }

    /// <summary>Loads the folder and, when it loads, generates one image with a method picked by the case number.</summary>
    private static string RunCase(string dir, int i)
    {
        var method = (DecodingMethod)(i % 4);
        var work = Task.Run(async () =>
        {
            using var pipeline = Sjd2Pipeline.Load(dir);
            if (method == DecodingMethod.Sjd2 && pipeline.Manifest.Sjd2 is null) method = DecodingMethod.Sjd;
            var result = await pipeline.GenerateAsync("a red circle", new GenerationOptions { Seed = (ulong)i, Decoding = MethodOptions.For(method) });
            if (result.Image.Width != pipeline.Manifest.Image.Width || result.Codes.Length != pipeline.Manifest.Image.CodeCount)
                throw new InvalidOperationException("the image does not match the manifest");
        });
        try
        {
            if (!work.Wait(PerCase)) return $"FAIL: no result within {PerCase.TotalSeconds} s";
            return "image";
        }
        catch (AggregateException e) when (e.InnerException is Sjd2Exception s)
        {
            return s.Message.Contains('\n') || s.Message.Contains('\r') ? $"FAIL: multi-line message: {s.Message}" : "Sjd2Exception";
        }
        catch (AggregateException e)
        {
            var inner = e.InnerException!;
            return $"FAIL: {inner.GetType().Name}: {inner.Message.ReplaceLineEndings(" ")} @ {inner.StackTrace?.Split('\n').FirstOrDefault()?.Trim()}";
        }
    }

    // ---- model.json mutations -----------------------------------------------------------------

    private static readonly string[] PathTricks =
        ["../model.json", "../../../../etc/passwd", "/etc/passwd", "", " ", "a\u0000b", "sub/../../x.onnx", "./transformer.onnx",
         "transformer.onnx/", "..", ".", "C:\\\\Windows\\\\x", "\\\\server\\share", new string('x', 5000), "vocab.txt", "model.json", "~/x", "%00"];

    private static (string Text, string What) MutateManifest(string original, Random rng)
    {
        // A few cases break the text itself; the rest edit the JSON tree 1-3 times.
        if (rng.Next(20) == 0)
        {
            var sb = new StringBuilder(original);
            int at = rng.Next(sb.Length);
            return rng.Next(3) switch
            {
                0 => (original[..at], $"text truncated at {at}"),
                1 => (sb.Remove(at, 1).Insert(at, (char)rng.Next(32, 127)).ToString(), $"text char {at} replaced"),
                _ => (original.Insert(at, ",}]\"{"[rng.Next(5)].ToString()), $"text insert at {at}"),
            };
        }
        var root = JsonNode.Parse(original)!;
        var what = new List<string>();
        int edits = 1 + rng.Next(3);
        for (int e = 0; e < edits; e++) what.Add(EditRandomNode(root, rng));
        return (root.ToJsonString(), string.Join("; ", what));
    }

    private static string EditRandomNode(JsonNode root, Random rng)
    {
        // Walk down from the root, stopping at a random depth.
        JsonNode parent = root;
        string path = "";
        while (true)
        {
            var children = Children(parent);
            if (children.Count == 0) break;
            var (key, child) = children[rng.Next(children.Count)];
            if (child is null || child is JsonValue || rng.Next(3) == 0)
            {
                return EditChild(parent, key, child, path + "/" + key, rng);
            }
            parent = child;
            path += "/" + key;
        }
        // An empty object or array: give it something.
        var added = RandomValue(rng);
        if (parent is JsonObject empty) empty["extra"] = added;
        else if (parent is JsonArray list) list.Add(added);
        return $"{path}: added {added?.ToJsonString() ?? "null"}";
    }

    private static List<(string Key, JsonNode? Node)> Children(JsonNode node) => node switch
    {
        JsonObject o => [.. o.Select(p => (p.Key, p.Value))],
        JsonArray a => [.. a.Select((v, i) => (i.ToString(System.Globalization.CultureInfo.InvariantCulture), v))],
        _ => [],
    };

    private static string EditChild(JsonNode parent, string key, JsonNode? current, string path, Random rng)
    {
        int op = rng.Next(10);
        if (op == 0)
        {
            Remove(parent, key);
            return $"{path} removed";
        }
        if (op == 1 && parent is JsonObject obj)
        {
            string name = rng.Next(2) == 0 ? "unexpected_" + rng.Next(100) : Children(parent)[rng.Next(Children(parent).Count)].Key + "_x";
            obj[name] = RandomValue(rng);
            return $"{path}: extra field {name}";
        }
        JsonNode? value = op switch
        {
            2 or 3 when current is JsonValue v && v.TryGetValue(out double d) => Tweak(d, rng),
            4 when current is JsonValue v && v.TryGetValue(out string? _) => JsonValue.Create(PathTricks[rng.Next(PathTricks.Length)]),
            5 when current is JsonArray a => Tweak(a, rng),
            _ => RandomValue(rng),
        };
        Set(parent, key, value);
        string shown = value?.ToJsonString() ?? "null";
        return $"{path} = {shown[..Math.Min(shown.Length, 40)]}";
    }

    // JSON has no infinities: results past double's range are clamped to its largest value.
    private static JsonNode? Tweak(double d, Random rng) => JsonValue.Create(Math.Clamp(TweakRaw(d, rng), -double.MaxValue, double.MaxValue));

    private static double TweakRaw(double d, Random rng) => rng.Next(8) switch
    {
        0 => d + 1,
        1 => d - 1,
        2 => -d,
        3 => d * 1000,
        4 => 0,
        5 => d + 0.5,
        6 => d * 2,
        _ => Huge(rng),
    };

    private static JsonNode Tweak(JsonArray a, Random rng)
    {
        var copy = (JsonArray)a.DeepClone();
        switch (rng.Next(4))
        {
            case 0: copy.Clear(); break;
            case 1 when copy.Count > 0: copy.RemoveAt(rng.Next(copy.Count)); break;
            case 2: copy.Add(RandomValue(rng)); break;
            default: for (int i = 0; i < 3; i++) copy.Add(JsonValue.Create(rng.Next(-5, 100000))); break;
        }
        return copy;
    }

    private static double Huge(Random rng) => rng.Next(6) switch
    {
        0 => 1e308,
        1 => -1e308,
        2 => int.MaxValue + 1.0,
        3 => long.MaxValue,
        4 => 1e-320,
        _ => int.MaxValue,
    };

    private static JsonNode? RandomValue(Random rng) => rng.Next(10) switch
    {
        0 => null,
        1 => JsonValue.Create(rng.Next(2) == 0),
        2 => JsonValue.Create(rng.Next(-3, 70)),
        3 => JsonValue.Create(Huge(rng)),
        4 => JsonValue.Create(rng.NextDouble() * 10 - 5),
        5 => JsonValue.Create(PathTricks[rng.Next(PathTricks.Length)]),
        6 => new JsonArray(),
        7 => new JsonArray(JsonValue.Create(rng.Next(100)), JsonValue.Create("x")),
        8 => new JsonObject { ["a"] = 1 },
        _ => JsonValue.Create("karras"),
    };

    private static void Remove(JsonNode parent, string key)
    {
        if (parent is JsonObject o) o.Remove(key);
        else if (parent is JsonArray a) a.RemoveAt(int.Parse(key, System.Globalization.CultureInfo.InvariantCulture));
    }

    private static void Set(JsonNode parent, string key, JsonNode? value)
    {
        if (parent is JsonObject o) o[key] = value;
        else if (parent is JsonArray a) a[int.Parse(key, System.Globalization.CultureInfo.InvariantCulture)] = value;
    }

    // ---- file mutations ------------------------------------------------------------------------

    private static (byte[] Bytes, string How) MutateBytes(byte[] bytes, Random rng)
    {
        var copy = (byte[])bytes.Clone();
        switch (rng.Next(5))
        {
            case 0:
                int keep = rng.Next(copy.Length);
                return (copy[..keep], $"truncated to {keep} of {copy.Length} bytes");
            case 1:
                int flips = 1 + rng.Next(8);
                for (int f = 0; f < flips; f++) copy[rng.Next(copy.Length)] ^= (byte)(1 << rng.Next(8));
                return (copy, $"{flips} bit flips");
            case 2:
                int at = rng.Next(copy.Length), len = Math.Min(copy.Length - at, 1 + rng.Next(64));
                Array.Clear(copy, at, len);
                return (copy, $"{len} bytes zeroed at {at}");
            case 3:
                int pos = rng.Next(copy.Length);
                copy[pos] = (byte)rng.Next(256);
                return (copy, $"byte {pos} replaced");
            default:
                var junk = new byte[1 + rng.Next(256)];
                rng.NextBytes(junk);
                return ([.. copy, .. junk], $"{junk.Length} junk bytes appended");
        }
    }

    private static int Setting(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), out int v) && v >= 0 ? v : fallback;
}
