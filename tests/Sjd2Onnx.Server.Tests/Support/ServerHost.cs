using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Sjd2Onnx.Server.Tests.Support;

/// <summary>
/// A started <see cref="Sjd2Server"/>: in process on ASP.NET Core's test server, or on a real
/// Kestrel listening on 127.0.0.1 with a free port. Its log lines are captured.
/// </summary>
internal sealed class ServerHost : IAsyncDisposable
{
    private ServerHost(WebApplication app, HttpClient client, LogCapture logs)
    {
        App = app;
        Client = client;
        Logs = logs;
    }

    public WebApplication App { get; }

    /// <summary>A client whose base address is the server.</summary>
    public HttpClient Client { get; }

    public Uri BaseAddress => Client.BaseAddress!;

    public LogCapture Logs { get; }

    public static ServerOptions Options(string modelDir, int maxConcurrent = 1, int queue = 8) =>
        new() { ModelDirectory = modelDir, Urls = "http://127.0.0.1:0", MaxConcurrent = maxConcurrent, QueueLimit = queue };

    /// <summary>In process: requests go straight into the pipeline, no sockets.</summary>
    public static async Task<ServerHost> InProcessAsync(ServerOptions options)
    {
        var logs = new LogCapture();
        var app = Sjd2Server.Build(options, b =>
        {
            b.WebHost.UseTestServer();
            Quiet(b, logs);
        });
        await app.StartAsync();
        return new ServerHost(app, app.GetTestClient(), logs);
    }

    /// <summary>A real Kestrel on 127.0.0.1 (port picked by the system).</summary>
    public static async Task<ServerHost> KestrelAsync(ServerOptions options)
    {
        var logs = new LogCapture();
        var app = Sjd2Server.Build(options, b => Quiet(b, logs));
        await app.StartAsync();
        var client = new HttpClient { BaseAddress = new Uri(app.Urls.Single()), Timeout = TimeSpan.FromMinutes(5) };
        return new ServerHost(app, client, logs);
    }

    private static void Quiet(WebApplicationBuilder builder, LogCapture logs)
    {
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(logs);
        builder.Services.AddSingleton(logs);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
    }
}
