using Sjd2Onnx.Server;

namespace Sjd2Onnx.Cli.Commands;

/// <summary><c>sjd2 serve</c>: the OpenAI-compatible image API and the page, until Ctrl+C.</summary>
internal static class ServeCommand
{
    public static async Task<int> RunAsync(CommandLine cl, CancellationToken ct)
    {
        if (cl.Positionals.Count != 0)
            throw new UsageException($"serve takes no prompt ('{cl.Positionals[0]}'); prompts come in the requests.");
        var options = new ServerOptions
        {
            ModelDirectory = ModelLocator.Resolve(cl.String("model")),
            Provider = CommonOptions.ParseProvider(cl.String("ep") ?? "cpu"),
            DeviceId = cl.Int("device-id", 0, 64) ?? 0,
            Urls = cl.String("urls") ?? ServerOptions.DefaultUrls,
            MaxConcurrent = cl.Int("max-concurrent", 1, 1024) ?? 1,
            QueueLimit = cl.Int("queue", 0, 100_000) ?? 8,
        };
        cl.RejectUnknown("serve");
        await Sjd2Server.RunAsync(options, ct);
        return 0;
    }
}
