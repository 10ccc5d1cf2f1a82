namespace Sjd2Onnx.Model;

/// <summary>
/// A minimal ONNX model built in memory (y = x + x on a float tensor of 4) to test whether an
/// execution provider really loads and runs, without reading a model's (possibly huge) graphs.
/// </summary>
internal static class ProbeGraph
{
    public const string Input = "x";
    public const string Output = "y";
    public const int Length = 4;

    /// <summary>The serialized ModelProto (protobuf wire format, written by hand: no ONNX schema classes needed).</summary>
    public static byte[] Build()
    {
        byte[] tensorType = Message(
            Varint(1, 1), // elem_type FLOAT
            Bytes(2, Message(Bytes(1, Message(Varint(1, Length)))))); // shape { dim { dim_value } }
        byte[] ValueInfo(string name) => Message(Text(1, name), Bytes(2, Message(Bytes(1, tensorType))));
        byte[] node = Message(Text(1, Input), Text(1, Input), Text(2, Output), Text(3, "add"), Text(4, "Add"));
        byte[] graph = Message(Bytes(1, node), Text(2, "probe"), Bytes(11, ValueInfo(Input)), Bytes(12, ValueInfo(Output)));
        return Message(
            Varint(1, 8), // ir_version 8
            Bytes(7, graph),
            Bytes(8, Message(Text(1, ""), Varint(2, 17)))); // opset_import { domain "" version 17 }
    }

    private static byte[] Message(params byte[][] fields) => [.. fields.SelectMany(f => f)];

    private static byte[] Varint(int field, long value) => [.. Key(field, 0), .. Encode((ulong)value)];

    private static byte[] Text(int field, string value) => Bytes(field, System.Text.Encoding.UTF8.GetBytes(value));

    private static byte[] Bytes(int field, byte[] value) => [.. Key(field, 2), .. Encode((ulong)value.Length), .. value];

    private static byte[] Key(int field, int wireType) => Encode((ulong)((field << 3) | wireType));

    private static byte[] Encode(ulong v)
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
