using System.CommandLine;
using Sjd2Onnx.Cli.Options;
using Sjd2Onnx.Server;

namespace Sjd2Onnx.Cli.Commands;

/// <summary><c>sjd2 serve</c>: the OpenAI-compatible image API, the event stream and the page, until Ctrl+C.</summary>
internal sealed class ServeCommand
{
    private readonly ModelOptions _model = new();

    private readonly Option<string?> _urls = new("--urls")
    {
        Description = $"Addresses to listen on, separated by ';' (port 0 picks a free one); default {ServerOptions.DefaultUrls}.",
        HelpName = "URLS",
    };

    private readonly Option<int?> _maxConcurrent = new("--max-concurrent")
    {
        Description = "Generations that run at once (default 1); more wait in the queue.",
        HelpName = "N",
        CustomParser = ValueParsers.Int("--max-concurrent", 1, 1024),
    };

    private readonly Option<int?> _queue = new("--queue")
    {
        Description = "Requests that may wait for a free slot (default 8); beyond that the answer is 429 with Retry-After.",
        HelpName = "N",
        CustomParser = ValueParsers.Int("--queue", 0, 100_000),
    };

    /// <summary>The <c>serve</c> command.</summary>
    public static Command Create()
    {
        var serve = new ServeCommand();
        var command = new Command("serve", "Web server: the OpenAI images API (POST /v1/images/generations), a pass-by-pass event " +
            "stream (POST /v1/images/generations/stream) and a page at / that shows Jacobi decoding converge. Stateless: " +
            "run several behind a load balancer.");
        serve._model.AddTo(command);
        command.Options.Add(serve._urls);
        command.Options.Add(serve._maxConcurrent);
        command.Options.Add(serve._queue);
        command.SetAction(serve.RunAsync);
        return command;
    }

    private async Task<int> RunAsync(ParseResult parse, CancellationToken ct)
    {
        var options = new ServerOptions
        {
            ModelDirectory = _model.Folder(parse),
            Pipeline = _model.PipelineOptionsOf(parse),
            Urls = parse.GetValue(_urls) ?? ServerOptions.DefaultUrls,
            MaxConcurrent = parse.GetValue(_maxConcurrent) ?? 1,
            QueueLimit = parse.GetValue(_queue) ?? 8,
        };
        UsageException.FromEngine(options.Validate); // addresses and limits are command-line values: exit code 2
        await Sjd2Server.RunAsync(options, ct); // returns when Ctrl+C or SIGTERM stops the server
        return ExitCodes.Success;
    }
}
