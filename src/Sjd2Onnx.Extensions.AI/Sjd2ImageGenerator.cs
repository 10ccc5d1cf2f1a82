using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Sjd2Onnx.Imaging;

namespace Sjd2Onnx.Extensions.AI;

/// <summary>
/// <see cref="IImageGenerator"/> over a <see cref="Sjd2Pipeline"/>: text prompt in, PNG
/// <see cref="DataContent"/> out (<c>image/png</c>, generation parameters in text chunks).
/// <c>ImageGenerationOptions.Count</c> sets the number of images; the seed, the decoding method and
/// the sampling values go in <c>AdditionalProperties</c> (keys in <see cref="Sjd2GenerationProperties"/>).
/// Thread-safe; the pipeline runs concurrent requests.
/// </summary>
public sealed class Sjd2ImageGenerator : IImageGenerator
{
    private readonly Sjd2Pipeline _pipeline;
    private readonly bool _ownsPipeline;
    private readonly Sjd2ImageGeneratorOptions _options;
    private readonly ILogger _logger;
    private readonly ImageGeneratorMetadata _metadata;

    /// <summary>A generator over an open pipeline, which the caller keeps and disposes.</summary>
    public Sjd2ImageGenerator(Sjd2Pipeline pipeline, Sjd2ImageGeneratorOptions? options = null, ILogger<Sjd2ImageGenerator>? logger = null)
        : this(pipeline, ownsPipeline: false, options ?? new Sjd2ImageGeneratorOptions(), logger ?? (ILogger)NullLogger.Instance)
    {
    }

    private Sjd2ImageGenerator(Sjd2Pipeline pipeline, bool ownsPipeline, Sjd2ImageGeneratorOptions options, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        _pipeline = pipeline;
        _ownsPipeline = ownsPipeline;
        _options = options;
        _logger = logger;
        _metadata = new ImageGeneratorMetadata("sjd2onnx", null, pipeline.Manifest.Name);
    }

    /// <summary>Opens the model of <paramref name="options"/> and returns a generator that owns (and disposes) it.</summary>
    /// <exception cref="Sjd2Exception">The model folder, manifest or a graph is unusable, or the provider is missing.</exception>
    public static Sjd2ImageGenerator Load(Sjd2ImageGeneratorOptions options, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrWhiteSpace(options.ModelPath))
            throw new Sjd2Exception("Sjd2ImageGeneratorOptions.ModelPath is empty; set it to a model folder (configuration key Sjd2:ModelPath).");
        var logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<Sjd2ImageGenerator>();
        var clock = Stopwatch.StartNew();
        var pipeline = Sjd2Pipeline.Load(options.ModelPath, new PipelineOptions { Provider = options.Provider, DeviceId = options.DeviceId });
        Sjd2ImageGeneratorLog.ModelLoaded(logger, pipeline.Manifest.Name, options.ModelPath, options.Provider, clock.Elapsed.TotalMilliseconds);
        return new Sjd2ImageGenerator(pipeline, ownsPipeline: true, options, logger);
    }

    /// <summary>The pipeline this generator runs.</summary>
    public Sjd2Pipeline Pipeline => _pipeline;

    /// <inheritdoc/>
    /// <exception cref="NotSupportedException">Original images (editing), a response format other than data, or a media type other than image/png.</exception>
    /// <exception cref="ArgumentException">No prompt, a count below 1, another model id or image size than this model's, or a seed or method of the wrong type.</exception>
    /// <exception cref="Sjd2Exception">The engine refuses the prompt or a setting (one-line message naming its key).</exception>
    public async Task<ImageGenerationResponse> GenerateAsync(ImageGenerationRequest request, ImageGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.OriginalImages?.Any() == true)
            throw new NotSupportedException("Sjd2Onnx generates images from text only; editing original images is not supported.");
        if (string.IsNullOrWhiteSpace(request.Prompt))
            throw new ArgumentException("The image generation request has no prompt.", nameof(request));
        CheckSupported(options);
        int count = options?.Count ?? 1;
        if (count < 1) throw new ArgumentException($"ImageGenerationOptions.Count must be at least 1, got {count}.", nameof(options));
        var (generation, seedDrawn) = Resolve(options?.AdditionalProperties);
        if (generation.Seed > ulong.MaxValue - (ulong)(count - 1))
            throw new ArgumentException($"seed {generation.Seed} with {count} images runs past the largest seed.", nameof(options));
        Sjd2ImageGeneratorLog.RequestStarted(_logger, count, generation.Method, generation.Seed, seedDrawn);

        var contents = new List<AIContent>(count);
        var results = new List<GenerationResult>(count);
        try
        {
            for (int i = 0; i < count; i++)
            {
                var clock = Stopwatch.StartNew();
                var result = await _pipeline.GenerateAsync(request.Prompt, generation with { Seed = generation.Seed + (ulong)i }, null, cancellationToken).ConfigureAwait(false);
                var st = result.Statistics;
                Sjd2ImageGeneratorLog.ImageGenerated(_logger, i + 1, count, result.Options.Method, result.Options.Seed, st.Passes, st.MeanAcceptedPerPass, clock.Elapsed.TotalMilliseconds);
                byte[] png = PngFile.Encode(result.Image, _options.EmbedMetadata ? PngMetadata.From(result) : null);
                contents.Add(new DataContent(png, "image/png")
                {
                    Name = $"sjd2-{result.Options.Seed}.png",
                    AdditionalProperties = new() { [Sjd2GenerationProperties.Seed] = result.Options.Seed, [Sjd2GenerationProperties.Passes] = st.Passes },
                });
                results.Add(result);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Sjd2ImageGeneratorLog.Cancelled(_logger, results.Count, count);
            throw;
        }
        long promptTokens = _pipeline.Tokenize(request.Prompt).Count;
        long imageTokens = (long)count * _pipeline.Manifest.Image.CodeCount;
        return new ImageGenerationResponse(contents)
        {
            RawRepresentation = results,
            Usage = new UsageDetails { InputTokenCount = promptTokens, OutputTokenCount = imageTokens, TotalTokenCount = promptTokens + imageTokens },
        };
    }

    /// <inheritdoc/>
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null) return null;
        if (serviceType == typeof(ImageGeneratorMetadata)) return _metadata;
        if (serviceType == typeof(Sjd2Pipeline)) return _pipeline;
        return serviceType.IsInstanceOfType(this) ? this : null;
    }

    /// <summary>Disposes the pipeline when this generator opened it (<see cref="Load"/>).</summary>
    public void Dispose()
    {
        if (_ownsPipeline) _pipeline.Dispose();
    }

    private void CheckSupported(ImageGenerationOptions? options)
    {
        if (options is null) return;
        var image = _pipeline.Manifest.Image;
        if (options.ModelId is { } model && !string.Equals(model, _pipeline.Manifest.Name, StringComparison.Ordinal))
            throw new ArgumentException($"this generator runs model '{_pipeline.Manifest.Name}', not '{model}'.", nameof(options));
        if (options.ImageSize is { } size && (size.Width != image.Width || size.Height != image.Height))
            throw new ArgumentException($"model '{_pipeline.Manifest.Name}' makes {image.Width}×{image.Height} images, not {size.Width}×{size.Height}.", nameof(options));
        if (options.MediaType is { } media && !string.Equals(media, "image/png", StringComparison.OrdinalIgnoreCase))
            throw new NotSupportedException($"Sjd2Onnx returns image/png, not {media}.");
        if (options.ResponseFormat is { } format && format != ImageGenerationResponseFormat.Data)
            throw new NotSupportedException($"Sjd2Onnx returns the image data (ImageGenerationResponseFormat.Data), not {format}.");
    }

    private (GenerationOptions Options, bool SeedDrawn) Resolve(AdditionalPropertiesDictionary? properties)
    {
        ulong? seed = Get<ulong>(properties, Sjd2GenerationProperties.Seed) ?? _options.Seed;
        var start = new GenerationOptions
        {
            Seed = seed ?? (ulong)Random.Shared.NextInt64(long.MaxValue),
            Decoding = MethodOptions.For(Method(properties) ?? _options.Method),
        };
        // The configured values apply to the methods that have them; a request's are the engine's settings, checked as on the server.
        var configured = new (string Key, object? Value)[]
        {
            ("cfg", _options.CfgScale), ("temperature", _options.Temperature), ("top_k", _options.TopK), ("top_p", _options.TopP), ("window", _options.Window),
        };
        var generation = SettingsBinder.Bind(start, Settings(configured), skipOtherMethods: true);
        var requested = (properties ?? []).Where(p => p.Key is not (Sjd2GenerationProperties.Seed or Sjd2GenerationProperties.Method))
            .Select(p => (Key: p.Key == Sjd2GenerationProperties.CfgScale ? "cfg" : p.Key, p.Value))
            .Where(p => SettingsBinder.Keys.Contains(p.Key));
        return (SettingsBinder.Bind(generation, Settings(requested)), seed is null);
    }

    private static IEnumerable<KeyValuePair<string, string>> Settings(IEnumerable<(string Key, object? Value)> values) =>
        values.Where(v => v.Value is not null).Select(v => new KeyValuePair<string, string>(v.Key, Convert.ToString(v.Value, CultureInfo.InvariantCulture)!));

    private static DecodingMethod? Method(AdditionalPropertiesDictionary? properties)
    {
        if (properties is null || !properties.TryGetValue(Sjd2GenerationProperties.Method, out object? value) || value is null) return null;
        return value switch
        {
            DecodingMethod m => m,
            string s => DecodingMethodNames.TryParse(s, out var m) ? m
                : throw new ArgumentException($"unknown decoding method '{s}' in additional property '{Sjd2GenerationProperties.Method}'; use ar, sjd, sjd++, pac or sjd2."),
            _ => throw new ArgumentException($"additional property '{Sjd2GenerationProperties.Method}' must be a DecodingMethod or a string, not {value.GetType().Name}."),
        };
    }

    private static T? Get<T>(AdditionalPropertiesDictionary? properties, string key) where T : struct
    {
        if (properties is null || !properties.ContainsKey(key)) return null;
        if (properties.TryGetValue(key, out T value)) return value;
        throw new ArgumentException($"additional property '{key}' must be a {typeof(T).Name}, got '{properties[key]}'.");
    }
}
