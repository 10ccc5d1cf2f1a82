using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Sjd2Onnx.Model;

/// <summary>
/// Replays the reference cases export_models.py wrote (parity.json: PyTorch inputs and outputs)
/// through ONNX Runtime and reports the largest absolute difference per output.
/// </summary>
internal static class ParityCheck
{
    public sealed record Result(string Graph, string Output, int Case, double MaxAbsDiff);

    public static (IReadOnlyList<Result> Results, double Tolerance) Run(string modelDir, ExecutionProvider provider = ExecutionProvider.Cpu)
    {
        var manifest = ManifestReader.Load(modelDir);
        string path = Path.Combine(modelDir, "parity.json");
        if (!File.Exists(path))
            throw new Sjd2Exception($"'{modelDir}' has no parity.json; export the model with export_models.py to get reference cases.");
        using var sessions = ModelSessions.Open(modelDir, manifest, provider, 0);
        using var floatInputs = provider == ExecutionProvider.Cpu ? AtAccuracyLevelZero(modelDir, manifest) : null;
        try
        {
            return Compare(path, sessions, floatInputs);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException
                                  or ArgumentException or IndexOutOfRangeException or OnnxRuntimeException)
        {
            throw new Sjd2Exception($"parity.json in '{modelDir}' is not a usable reference ({FirstLine(e.Message)}); re-export the model.", e);
        }
    }

    private static string FirstLine(string s)
    {
        int i = s.IndexOfAny(['\r', '\n']);
        return i < 0 ? s : s[..i];
    }

    /// <summary>
    /// Accuracy level 4 lets ONNX Runtime round the inputs of a <c>MatMulNBits</c> node to int8 where
    /// the CPU has such kernels: a precision choice of the kernel, not of the export, and one whose
    /// rounding flips with the last bit of an input. The reference (PyTorch with the same stored
    /// weights) is therefore replayed through a copy of the transformer at level 0 (float inputs);
    /// null when the model is not quantized at another level or keeps its weights in an external file.
    /// </summary>
    internal static InferenceSession? AtAccuracyLevelZero(string modelDir, ModelManifest manifest)
    {
        if (!manifest.Weights.IsQuantized || manifest.Weights.AccuracyLevel == 0) return null;
        string graph = ManifestReader.ResolveInside(modelDir, manifest.Graphs.Transformer, "transformer");
        if (File.Exists(graph + ".data")) return null;
        byte[] bytes = File.ReadAllBytes(graph);
        // An AttributeProto as protobuf writes it: name (field 1, length 14) then i (field 3, varint).
        // Level 0..127 is one varint byte, so the level is rewritten in place and no length changes.
        byte[] key = [0x0A, 14, .. "accuracy_level"u8, 0x18];
        int rewritten = 0;
        for (int at = bytes.AsSpan().IndexOf(key); at >= 0;)
        {
            int value = at + key.Length;
            if (bytes[value] < 0x80) { bytes[value] = 0; rewritten++; }
            int next = bytes.AsSpan(value).IndexOf(key);
            at = next < 0 ? -1 : value + next;
        }
        return rewritten == 0 ? null : new InferenceSession(bytes);
    }

    private static (IReadOnlyList<Result> Results, double Tolerance) Compare(string path, ModelSessions sessions, InferenceSession? floatInputs)
    {
        using var doc = JsonDocument.Parse(IO.InputFile.ReadAllText(path, IO.InputFile.MaxTokenizerBytes, "parity.json"));
        double tolerance = doc.RootElement.TryGetProperty("tolerance", out var tol) ? tol.GetDouble() : 1e-4;
        var results = new List<Result>();
        int caseIndex = 0;
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            string graph = c.GetProperty("graph").GetString()!;
            var session = graph switch
            {
                "text_embedding" => sessions.TextEmbedding,
                "image_embedding" => sessions.ImageEmbedding,
                "transformer" => floatInputs ?? sessions.Transformer,
                "vq_decoder" => sessions.VqDecoder,
                _ => throw new Sjd2Exception($"parity.json names an unknown graph '{graph}'."),
            };
            var names = new List<string>();
            var values = new List<OrtValue>();
            try
            {
                foreach (var input in c.GetProperty("inputs").EnumerateObject())
                {
                    names.Add(input.Name);
                    // float16 graph inputs (a float16 KV cache) get the reference values rounded to float16
                    bool half = session.InputMetadata.TryGetValue(input.Name, out var meta) && meta.ElementDataType == TensorElementType.Float16;
                    values.Add(ToOrtValue(input.Value, half));
                }
                var expected = c.GetProperty("outputs").EnumerateObject().ToList();
                using var outputs = session.Run(new RunOptions(), names, values, expected.Select(e => e.Name).ToList());
                for (int i = 0; i < expected.Count; i++)
                {
                    var want = expected[i].Value.GetProperty("data");
                    var have = ReadFloats(outputs[i]);
                    if (have.Length != want.GetArrayLength())
                        throw new Sjd2Exception($"parity case {caseIndex}: {graph}.{expected[i].Name} has {have.Length} values, the reference {want.GetArrayLength()}.");
                    double max = 0;
                    int k = 0;
                    foreach (var w in want.EnumerateArray()) max = Math.Max(max, Math.Abs(have[k++] - w.GetDouble()));
                    results.Add(new Result(graph, expected[i].Name, caseIndex, max));
                }
            }
            finally
            {
                foreach (var v in values) v.Dispose();
            }
            caseIndex++;
        }
        return (results, tolerance);
    }

    // float16 outputs (a float16 KV cache) are compared as float
    private static float[] ReadFloats(OrtValue value) =>
        value.GetTensorTypeAndShape().ElementDataType == TensorElementType.Float16
            ? [.. value.GetTensorDataAsSpan<Float16>().ToArray().Select(h => (float)h)]
            : value.GetTensorDataAsSpan<float>().ToArray();

    private static OrtValue ToOrtValue(JsonElement t, bool half)
    {
        long[] shape = t.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();
        var data = t.GetProperty("data");
        return t.GetProperty("dtype").GetString() switch
        {
            "int64" => OrtValue.CreateTensorValueFromMemory(data.EnumerateArray().Select(e => e.GetInt64()).ToArray(), shape),
            "float32" when shape.Contains(0) =>
                OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, half ? TensorElementType.Float16 : TensorElementType.Float, shape),
            "float32" when half => OrtValue.CreateTensorValueFromMemory(data.EnumerateArray().Select(e => (Float16)(float)e.GetDouble()).ToArray(), shape),
            "float32" => OrtValue.CreateTensorValueFromMemory(data.EnumerateArray().Select(e => (float)e.GetDouble()).ToArray(), shape),
            var other => throw new Sjd2Exception($"parity.json uses an unsupported dtype '{other}'."),
        };
    }
}
