using System.Text.Encodings.Web;
using System.Text.Json;

namespace Sjd2Onnx.Server;

/// <summary>How answers are serialised: readable characters ("sjd++", quotes) stay as they are.</summary>
internal static class JsonOutput
{
    // The answers are JSON bodies and event-stream lines, never embedded in HTML, so HTML-sensitive
    // characters need no escaping.
    public static readonly JsonSerializerOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}
