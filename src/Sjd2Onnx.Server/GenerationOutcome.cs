namespace Sjd2Onnx.Server;

/// <summary>How a request that held a generation slot ended.</summary>
internal enum GenerationOutcome
{
    /// <summary>Images delivered.</summary>
    Completed,

    /// <summary>The client went away or the server stopped.</summary>
    Cancelled,

    /// <summary>Bad options found late, or an unexpected error.</summary>
    Failed,
}
