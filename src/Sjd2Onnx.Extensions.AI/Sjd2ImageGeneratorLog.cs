using Microsoft.Extensions.Logging;

namespace Sjd2Onnx.Extensions.AI;

/// <summary>The log events of <see cref="Sjd2ImageGenerator"/> (source-generated, no allocation when disabled).</summary>
internal static partial class Sjd2ImageGeneratorLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Loaded model {Model} from {ModelPath} on {Provider} in {Milliseconds:F0} ms")]
    public static partial void ModelLoaded(ILogger logger, string model, string modelPath, ExecutionProvider provider, double milliseconds);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Generated image {Index}/{Count} with {Method}, seed {Seed}: {Passes} passes, {AcceptedPerPass:F2} tokens per pass, {Milliseconds:F0} ms")]
    public static partial void ImageGenerated(ILogger logger, int index, int count, DecodingMethod method, ulong seed, int passes, double acceptedPerPass, double milliseconds);

    [LoggerMessage(EventId = 3, Level = LogLevel.Debug, Message = "Request: {Count} image(s) with {Method} from seed {Seed} (seed drawn: {SeedDrawn})")]
    public static partial void RequestStarted(ILogger logger, int count, DecodingMethod method, ulong seed, bool seedDrawn);

    [LoggerMessage(EventId = 4, Level = LogLevel.Warning, Message = "Image generation cancelled after {Done} of {Count} image(s)")]
    public static partial void Cancelled(ILogger logger, int done, int count);
}
