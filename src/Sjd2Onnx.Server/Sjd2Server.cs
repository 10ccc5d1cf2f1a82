using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Sjd2Onnx.Server;

/// <summary>
/// The <c>sjd2 serve</c> web server: the OpenAI images API, a streaming endpoint and the page,
/// over one pipeline loaded at start. It keeps no state between requests, so several instances
/// can stand behind a load balancer.
/// </summary>
public static class Sjd2Server
{
    /// <summary>Logger category of the request and generation log.</summary>
    public const string LogCategory = "Sjd2Onnx.Server";

    /// <summary>Loads the model and builds the application (not started).</summary>
    /// <param name="options">Model, addresses and limits.</param>
    /// <param name="configure">Last changes to the builder before it builds (tests: a test server, log capture).</param>
    /// <exception cref="Sjd2Exception">Bad limits, or the model folder cannot be opened.</exception>
    public static WebApplication Build(ServerOptions options, Action<WebApplicationBuilder>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var pipeline = Sjd2Pipeline.Load(options.ModelDirectory, options.Pipeline);
        try
        {
            // The content root is the app's folder, so that no appsettings.json in the current folder changes the server.
            var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
            builder.WebHost.UseUrls(options.Urls);
            builder.WebHost.ConfigureKestrel(kestrel =>
            {
                kestrel.Limits.MaxRequestBodySize = options.MaxBodyBytes;
                kestrel.AddServerHeader = false;
            });
            builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
            builder.Services.AddSingleton(options);
            builder.Services.AddSingleton(_ => pipeline); // a factory registration: disposed with the app
            builder.Services.AddSingleton<GenerationGate>();
            configure?.Invoke(builder);

            var app = builder.Build();
            app.Services.GetRequiredService<Sjd2Pipeline>(); // created now, so that disposing the app disposes it
            var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(LogCategory);
            foreach (var reason in pipeline.ProviderFallbacks) log.LogWarning("{Reason}", reason);
            log.LogInformation("model {Model} from {Folder} on {Provider}", pipeline.Manifest.Name,
                Path.GetFullPath(pipeline.ModelDirectory), pipeline.Provider.ToString().ToLowerInvariant());
            app.UseMiddleware<RequestHandling>();
            InfoEndpoints.Map(app);
            ImageEndpoints.Map(app);
            return app;
        }
        catch
        {
            pipeline.Dispose();
            throw;
        }
    }

    /// <summary>Runs the server until <paramref name="cancellationToken"/> is cancelled (or the process is asked to stop).</summary>
    /// <exception cref="Sjd2Exception">Bad limits, an unusable model folder, or an address that cannot be listened on.</exception>
    public static async Task RunAsync(ServerOptions options, CancellationToken cancellationToken)
    {
        await using var app = Build(options);
        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or FormatException or ArgumentException)
        {
            throw new Sjd2Exception($"cannot listen on {options.Urls}: {e.Message}; choose another address with --urls.", e);
        }
        await app.WaitForShutdownAsync(cancellationToken);
    }
}
