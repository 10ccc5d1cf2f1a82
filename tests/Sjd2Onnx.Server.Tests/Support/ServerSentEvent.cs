using System.Runtime.CompilerServices;
using System.Text.Json;

namespace Sjd2Onnx.Server.Tests.Support;

/// <summary>One server-sent event: its name and its JSON data.</summary>
internal sealed record ServerSentEvent(string Name, JsonElement Data)
{
    /// <summary>Reads events off a response body as they arrive.</summary>
    public static async IAsyncEnumerable<ServerSentEvent> ReadAllAsync(Stream body, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var reader = new StreamReader(body);
        string name = "message", data = "";
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (line.Length == 0)
            {
                if (data.Length > 0) yield return new ServerSentEvent(name, JsonDocument.Parse(data).RootElement.Clone());
                name = "message";
                data = "";
            }
            else if (line.StartsWith("event: ", StringComparison.Ordinal)) name = line[7..];
            else if (line.StartsWith("data: ", StringComparison.Ordinal)) data += line[6..];
        }
    }
}
