namespace Sjd2Onnx.Tests.Support;

/// <summary>
/// Small edits of a serialized ONNX model at the protobuf level (no ONNX schema classes here):
/// enough to make ONNX Runtime emit a known warning.
/// </summary>
internal static class OnnxFileEdit
{
    /// <summary>Adds a float initializer no node uses; ONNX Runtime warns "Removing initializer ..." when it loads the graph.</summary>
    public static byte[] AddUnusedInitializer(byte[] model, string name)
    {
        byte[] tensor = [.. Field(1, Varint(1)), .. Field(2, Varint(1)), .. Bytes(8, System.Text.Encoding.UTF8.GetBytes(name)), .. Bytes(9, BitConverter.GetBytes(1f))];
        byte[] initializer = Bytes(5, tensor); // GraphProto.initializer
        var output = new List<byte>();
        int i = 0;
        bool found = false;
        while (i < model.Length)
        {
            ulong key = ReadVarint(model, ref i);
            int field = (int)(key >> 3), wire = (int)(key & 7);
            if (wire == 0)
            {
                ulong v = ReadVarint(model, ref i);
                output.AddRange([.. Varint(key), .. Varint(v)]);
            }
            else if (wire == 2)
            {
                int length = (int)ReadVarint(model, ref i);
                byte[] content = model[i..(i + length)];
                i += length;
                if (field == 7) { content = [.. content, .. initializer]; found = true; } // ModelProto.graph
                output.AddRange(Bytes(field, content));
            }
            else throw new InvalidDataException($"unexpected wire type {wire} at the top level of the model");
        }
        if (!found) throw new InvalidDataException("the model has no graph");
        return [.. output];
    }

    private static byte[] Field(int field, byte[] varintValue) => [.. Varint((ulong)(field << 3)), .. varintValue];

    private static byte[] Bytes(int field, byte[] value) => [.. Varint((ulong)((field << 3) | 2)), .. Varint((ulong)value.Length), .. value];

    private static byte[] Varint(ulong v) => Sjd2Onnx.Model.OnnxModelWriter.Encode(v);

    private static ulong ReadVarint(byte[] data, ref int i)
    {
        ulong v = 0;
        for (int shift = 0; ; shift += 7)
        {
            byte b = data[i++];
            v |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0) return v;
        }
    }
}
