using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Sjd2Onnx.Model;

/// <summary>Checks a graph's inputs and outputs against the model contract and the manifest's dimensions.</summary>
internal static class GraphContract
{
    /// <summary>An expected tensor: name, element type and dims (null = any size).</summary>
    internal readonly record struct Port(string Name, TensorElementType Type, int?[] Dims);

    public static void Check(InferenceSession session, string graph, IEnumerable<Port> inputs, IEnumerable<Port> outputs, bool exactInputs = true)
    {
        CheckSide(session.InputMetadata, graph, "input", inputs, exactInputs);
        CheckSide(session.OutputMetadata, graph, "output", outputs, false);
    }

    private static void CheckSide(IReadOnlyDictionary<string, NodeMetadata> actual, string graph, string side, IEnumerable<Port> expected, bool exact)
    {
        var names = new HashSet<string>();
        foreach (var port in expected)
        {
            names.Add(port.Name);
            if (!actual.TryGetValue(port.Name, out var meta))
                throw Mismatch(graph, $"has no {side} '{port.Name}' (its {side}s: {Describe(actual)})");
            if (!meta.IsTensor || meta.ElementDataType != port.Type)
                throw Mismatch(graph, $"{side} '{port.Name}' is {meta.ElementDataType}, expected {port.Type}");
            if (meta.Dimensions.Length != port.Dims.Length)
                throw Mismatch(graph, $"{side} '{port.Name}' has rank {meta.Dimensions.Length}, expected {port.Dims.Length}");
            for (int d = 0; d < port.Dims.Length; d++)
            {
                int have = meta.Dimensions[d];
                if (port.Dims[d] is int want && have > 0 && have != want)
                    throw Mismatch(graph, $"{side} '{port.Name}' has size {have} in dimension {d}, the manifest says {want}");
            }
        }
        if (exact)
        {
            var extra = actual.Keys.FirstOrDefault(k => !names.Contains(k));
            if (extra is not null)
                throw Mismatch(graph, $"has an unexpected {side} '{extra}' (its {side}s: {Describe(actual)})");
        }
    }

    /// <summary>A graph that loaded but failed while generating: the folder's graphs do not fit its manifest.</summary>
    public static Sjd2Exception RunFailed(string graph, OnnxRuntimeException e)
    {
        string first = e.Message.ReplaceLineEndings("\n").Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault() ?? "";
        return new($"the {graph} graph failed while generating ({first.Trim()}); the model folder does not match model.json (re-export the model).", e);
    }

    // "codes int64[?,4,4], ..." : names and shapes, so a graph of another model or kind is recognisable.
    private static string Describe(IReadOnlyDictionary<string, NodeMetadata> ports)
    {
        const int Shown = 6;
        var parts = ports.Take(Shown).Select(p => p.Value.IsTensor
            ? $"{p.Key} {p.Value.ElementDataType.ToString().ToLowerInvariant()}[{string.Join(",", p.Value.Dimensions.Select(d => d > 0 ? d.ToString(System.Globalization.CultureInfo.InvariantCulture) : "?"))}]"
            : p.Key);
        string more = ports.Count > Shown ? $", … {ports.Count - Shown} more" : "";
        return string.Join(", ", parts) + more;
    }

    private static Sjd2Exception Mismatch(string graph, string what) =>
        new($"the {graph} graph {what}; it does not match model.json (re-export the model).");
}
