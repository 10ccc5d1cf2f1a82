using System.Buffers.Binary;
using System.Text;

namespace Sjd2Onnx.Imaging;

/// <summary>
/// PNG text chunks: adds tEXt (Latin-1) or iTXt (UTF-8) chunks after the IHDR chunk of an encoded
/// PNG, and reads them back. Chunk layout and CRC as in the PNG specification (ISO/IEC 15948).
/// </summary>
internal static class PngTextChunks
{
    private static readonly byte[] Signature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];
    private static readonly uint[] CrcTable = BuildCrcTable();

    /// <summary>The PNG bytes with one text chunk per entry inserted after IHDR.</summary>
    public static byte[] Insert(byte[] png, IEnumerable<KeyValuePair<string, string>> entries)
    {
        int afterHeader = Signature.Length + 12 + BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(Signature.Length));
        using var output = new MemoryStream(png.Length + 512);
        output.Write(png, 0, afterHeader);
        foreach (var (keyword, text) in entries) WriteTextChunk(output, keyword, text);
        output.Write(png, afterHeader, png.Length - afterHeader);
        return output.ToArray();
    }

    /// <summary>Every tEXt and iTXt entry of a PNG, in file order; null when the bytes are not a PNG.</summary>
    public static List<KeyValuePair<string, string>>? Read(ReadOnlySpan<byte> png)
    {
        if (png.Length < Signature.Length || !png[..Signature.Length].SequenceEqual(Signature)) return null;
        var entries = new List<KeyValuePair<string, string>>();
        int at = Signature.Length;
        while (at + 12 <= png.Length)
        {
            int length = BinaryPrimitives.ReadInt32BigEndian(png[at..]);
            if (length < 0 || at + 12 + (long)length > png.Length) return null;
            string type = Encoding.ASCII.GetString(png.Slice(at + 4, 4));
            var data = png.Slice(at + 8, length);
            uint crc = BinaryPrimitives.ReadUInt32BigEndian(png[(at + 8 + length)..]);
            if (crc != Crc(png.Slice(at + 4, 4 + length))) return null;
            if (type == "tEXt" && data.IndexOf((byte)0) is int nul and > 0)
                entries.Add(new(Encoding.Latin1.GetString(data[..nul]), Encoding.Latin1.GetString(data[(nul + 1)..])));
            else if (type == "iTXt" && ReadInternational(data) is { } entry)
                entries.Add(entry);
            if (type == "IEND") break;
            at += 12 + length;
        }
        return entries;
    }

    private static KeyValuePair<string, string>? ReadInternational(ReadOnlySpan<byte> data)
    {
        // keyword \0 compression-flag compression-method language \0 translated-keyword \0 text
        int nul = data.IndexOf((byte)0);
        if (nul <= 0 || nul + 3 > data.Length || data[nul + 1] != 0) return null; // compressed text is not written here
        var rest = data[(nul + 3)..];
        int language = rest.IndexOf((byte)0);
        if (language < 0) return null;
        rest = rest[(language + 1)..];
        int translated = rest.IndexOf((byte)0);
        if (translated < 0) return null;
        return new(Encoding.Latin1.GetString(data[..nul]), Encoding.UTF8.GetString(rest[(translated + 1)..]));
    }

    private static void WriteTextChunk(Stream output, string keyword, string text)
    {
        if (keyword.Length is 0 or > 79 || keyword.Any(c => c < 0x20 || c > 0x7E))
            throw new ArgumentException($"PNG text keyword '{keyword}' must be 1 to 79 printable ASCII characters.", nameof(keyword));
        bool latin1 = text.All(c => c == '\n' || (c >= 0x20 && c <= 0x7E) || (c >= 0xA1 && c <= 0xFF));
        using var data = new MemoryStream();
        data.Write(Encoding.ASCII.GetBytes(keyword));
        data.WriteByte(0);
        if (!latin1)
        {
            data.Write([0, 0, 0, 0]); // not compressed, method 0, no language tag, no translated keyword
        }
        data.Write(latin1 ? Encoding.Latin1.GetBytes(text) : Encoding.UTF8.GetBytes(text));
        WriteChunk(output, latin1 ? "tEXt" : "iTXt", data.ToArray());
    }

    private static void WriteChunk(Stream output, string type, byte[] data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        output.Write(word);
        var typeAndData = new byte[4 + data.Length];
        Encoding.ASCII.GetBytes(type, typeAndData);
        data.CopyTo(typeAndData, 4);
        output.Write(typeAndData);
        BinaryPrimitives.WriteUInt32BigEndian(word, Crc(typeAndData));
        output.Write(word);
    }

    private static uint Crc(ReadOnlySpan<byte> bytes)
    {
        uint c = 0xFFFFFFFFu;
        foreach (byte b in bytes) c = CrcTable[(c ^ b) & 0xFF] ^ (c >> 8);
        return c ^ 0xFFFFFFFFu;
    }

    private static uint[] BuildCrcTable()
    {
        var table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            uint c = n;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[n] = c;
        }
        return table;
    }
}
