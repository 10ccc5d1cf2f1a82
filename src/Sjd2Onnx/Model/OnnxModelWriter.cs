using Microsoft.ML.OnnxRuntime.Tensors;

namespace Sjd2Onnx.Model;

/// <summary>
/// Writes small ONNX models in memory (protobuf wire format by hand: no ONNX schema classes needed):
/// the provider probe and the KV cache's helper graphs, built at load time for a model's dimensions.
/// </summary>
internal sealed class OnnxModelWriter
{
    private readonly List<byte[]> _nodes = [], _inputs = [], _outputs = [];
    private readonly int _opset;

    /// <summary>A model importing the default ONNX domain at <paramref name="opset"/>.</summary>
    public OnnxModelWriter(int opset = 17) => _opset = opset;

    /// <summary>A graph input; each dimension is a size (int) or a symbolic name (string).</summary>
    public OnnxModelWriter Input(string name, TensorElementType type, params object[] dims)
    {
        _inputs.Add(ValueInfo(name, type, dims));
        return this;
    }

    /// <summary>A graph output; each dimension is a size (int) or a symbolic name (string).</summary>
    public OnnxModelWriter Output(string name, TensorElementType type, params object[] dims)
    {
        _outputs.Add(ValueInfo(name, type, dims));
        return this;
    }

    /// <summary>A node of the default domain.</summary>
    public OnnxModelWriter Node(string opType, string[] inputs, string[] outputs, params byte[][] attributes)
    {
        var fields = new List<byte[]>();
        fields.AddRange(inputs.Select(i => Text(1, i)));
        fields.AddRange(outputs.Select(o => Text(2, o)));
        fields.Add(Text(3, $"{opType}_{_nodes.Count}"));
        fields.Add(Text(4, opType));
        fields.AddRange(attributes.Select(a => Bytes(5, a)));
        _nodes.Add(Message([.. fields]));
        return this;
    }

    /// <summary>An integer attribute.</summary>
    public static byte[] Int(string name, long value) => Message(Text(1, name), Varint(3, value), Varint(20, 2));

    /// <summary>A one-element tensor attribute (e.g. <c>Constant</c>'s value, <c>ConstantOfShape</c>'s fill).</summary>
    public static byte[] Scalar(string name, TensorElementType type, byte[] littleEndianValue, bool rank0 = true)
    {
        byte[] tensor = rank0
            ? Message(Varint(2, (long)type), Bytes(9, littleEndianValue))
            : Message(Varint(1, 1), Varint(2, (long)type), Bytes(9, littleEndianValue));
        return Message(Text(1, name), Bytes(5, tensor), Varint(20, 4));
    }

    /// <summary>The serialized ModelProto.</summary>
    public byte[] Build(string graphName)
    {
        var graph = new List<byte[]>();
        graph.AddRange(_nodes.Select(n => Bytes(1, n)));
        graph.Add(Text(2, graphName));
        graph.AddRange(_inputs.Select(i => Bytes(11, i)));
        graph.AddRange(_outputs.Select(o => Bytes(12, o)));
        return Message(
            Varint(1, 8), // ir_version 8
            Text(2, "sjd2onnx"),
            Bytes(7, Message([.. graph])),
            Bytes(8, Message(Text(1, ""), Varint(2, _opset))));
    }

    private static byte[] ValueInfo(string name, TensorElementType type, object[] dims)
    {
        byte[] shape = Message([.. dims.Select(d => Bytes(1, d switch
        {
            int size => Varint(1, size),
            string symbol => Text(2, symbol),
            _ => throw new ArgumentException($"dimension {d} is neither a size nor a name", nameof(dims)),
        }))]);
        byte[] tensorType = Message(Varint(1, (long)type), Bytes(2, shape));
        return Message(Text(1, name), Bytes(2, Message(Bytes(1, tensorType))));
    }

    private static byte[] Message(params byte[][] fields) => [.. fields.SelectMany(f => f)];

    private static byte[] Varint(int field, long value) => [.. Key(field, 0), .. Encode((ulong)value)];

    private static byte[] Text(int field, string value) => Bytes(field, System.Text.Encoding.UTF8.GetBytes(value));

    private static byte[] Bytes(int field, byte[] value) => [.. Key(field, 2), .. Encode((ulong)value.Length), .. value];

    private static byte[] Key(int field, int wireType) => Encode((ulong)((field << 3) | wireType));

    /// <summary>Protobuf base-128 varint.</summary>
    internal static byte[] Encode(ulong v)
    {
        var bytes = new List<byte>();
        do
        {
            byte b = (byte)(v & 0x7F);
            v >>= 7;
            bytes.Add(v == 0 ? b : (byte)(b | 0x80));
        } while (v != 0);
        return [.. bytes];
    }
}
