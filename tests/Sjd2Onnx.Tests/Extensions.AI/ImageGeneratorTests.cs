using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Sjd2Onnx.Extensions.AI;
using Sjd2Onnx.Imaging;
using Sjd2Onnx.Tests.Support;

namespace Sjd2Onnx.Tests;

/// <summary>Sjd2Onnx.Extensions.AI as an app uses it: configuration, DI, MEAI's builder with its logging middleware, IImageGenerator.</summary>
public class ImageGeneratorTests
{
    [Fact]
    public async Task AnAppRegistersTheGeneratorAndGeneratesThroughMeaisLoggingPipeline()
    {
        var logs = new CollectingLoggerProvider();
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Sjd2:ModelPath"] = TestPaths.Model("tiny"),
            ["Sjd2:Method"] = "SjdPlusPlus",
            ["Sjd2:TopK"] = "5",
        }).Build();
        var services = new ServiceCollection();
        services.AddLogging(b => b.AddProvider(logs).SetMinimumLevel(LogLevel.Trace));
        services.AddSjd2ImageGenerator(configuration).UseLogging();
        await using (var provider = services.BuildServiceProvider())
        {
            var generator = provider.GetRequiredService<IImageGenerator>();
            Assert.IsType<LoggingImageGenerator>(generator);
            Assert.Equal("tiny", generator.GetService<ImageGeneratorMetadata>()?.DefaultModelId);

            var response = await generator.GenerateImagesAsync("a red circle", new ImageGenerationOptions
            {
                Count = 2,
                AdditionalProperties = new() { [Sjd2GenerationProperties.Seed] = 5UL, [Sjd2GenerationProperties.Temperature] = 0.9f },
            });

            var images = response.Contents.OfType<DataContent>().ToList();
            Assert.Equal(2, images.Count);
            Assert.All(images, i => Assert.Equal("image/png", i.MediaType));
            var pipeline = generator.GetRequiredService<Sjd2Pipeline>();
            for (int i = 0; i < 2; i++)
            {
                var metadata = PngMetadata.Read(images[i].Data.Span);
                Assert.NotNull(metadata);
                Assert.Equal(("a red circle", 5UL + (ulong)i, DecodingMethod.SjdPlusPlus, 5, 0.9f), (metadata.Prompt, metadata.Seed, metadata.Method, metadata.Sampling.TopK, metadata.Sampling.Temperature));
                // Exactly what the library gives for the same options.
                var direct = await pipeline.GenerateAsync("a red circle", new GenerationOptions { Seed = 5UL + (ulong)i, Sampling = new() { TopK = 5, Temperature = 0.9f }, Decoding = new SjdPlusPlusOptions() });
                Assert.Equal(PngFile.Encode(direct.Image, PngMetadata.From(direct)), images[i].Data.ToArray());
                Assert.Equal(direct.Statistics.Passes, images[i].AdditionalProperties![Sjd2GenerationProperties.Passes]);
            }
            Assert.Equal(2L * pipeline.Manifest.Image.CodeCount, response.Usage?.OutputTokenCount);
        }

        var entries = logs.Entries.ToList();
        Assert.Contains(entries, e => e.Category == typeof(Sjd2ImageGenerator).FullName && e.EventId.Id == 1 && e.Message.Contains("Loaded model tiny"));
        Assert.Equal(2, entries.Count(e => e.Category == typeof(Sjd2ImageGenerator).FullName && e.EventId.Id == 2 && e.Message.Contains("passes")));
        Assert.Contains(entries, e => e.Category.Contains(nameof(LoggingImageGenerator), StringComparison.Ordinal));
    }

    [Fact]
    public async Task MethodSeedAndCountComeFromTheRequest()
    {
        using var pipeline = Sjd2Pipeline.Load(TestPaths.Model("tiny"));
        using var generator = new Sjd2ImageGenerator(pipeline, new Sjd2ImageGeneratorOptions { Seed = 11 });
        var response = await generator.GenerateImagesAsync("a blue square", new ImageGenerationOptions { AdditionalProperties = new() { [Sjd2GenerationProperties.Method] = "ar" } });
        var image = Assert.Single(response.Contents.OfType<DataContent>());
        var metadata = PngMetadata.Read(image.Data.Span)!;
        Assert.Equal((DecodingMethod.Ar, 11UL), (metadata.Method, metadata.Seed));
        var ar = await pipeline.GenerateAsync("a blue square", new GenerationOptions { Seed = 11, Decoding = new ArOptions() });
        Assert.Equal(PngFile.Encode(ar.Image, PngMetadata.From(ar)), image.Data.ToArray());
        // Disposing a generator over a pipeline it did not open leaves the pipeline usable.
        generator.Dispose();
        Assert.Equal(16, (await pipeline.GenerateAsync("a blue square")).Codes.Length);
    }

    [Fact]
    public async Task PacAndReseedingComeFromTheRequest()
    {
        using var pipeline = Sjd2Pipeline.Load(TestPaths.Model("tiny"));
        using var generator = new Sjd2ImageGenerator(pipeline, new Sjd2ImageGeneratorOptions { Seed = 12 });
        var response = await generator.GenerateImagesAsync("a blue square", new ImageGenerationOptions
        {
            AdditionalProperties = new() { [Sjd2GenerationProperties.Method] = "pac", [Sjd2GenerationProperties.ReseedAfterStalls] = 1 },
        });
        var image = Assert.Single(response.Contents.OfType<DataContent>());
        var direct = await pipeline.GenerateAsync("a blue square", new GenerationOptions { Seed = 12, Decoding = new PacOptions { ReseedAfterStalls = 1 } });
        Assert.Equal(PngFile.Encode(direct.Image, PngMetadata.From(direct)), image.Data.ToArray());
        // The engine checks the value: a negative count reaches it and is refused there.
        await Assert.ThrowsAsync<Sjd2Exception>(() => generator.GenerateImagesAsync("a star", new ImageGenerationOptions
        {
            AdditionalProperties = new() { [Sjd2GenerationProperties.Method] = "sjd", [Sjd2GenerationProperties.ReseedAfterStalls] = -1 },
        }));
    }

    [Fact]
    public async Task RequestsItCannotServeAreRefusedClearly()
    {
        using var pipeline = Sjd2Pipeline.Load(TestPaths.Model("tiny"));
        using var generator = new Sjd2ImageGenerator(pipeline);
        var png = new DataContent(PngFile.Encode(new RgbImage(1, 1, new byte[3])), "image/png");
        await Assert.ThrowsAsync<NotSupportedException>(() => generator.EditImageAsync(png, "make it red"));
        await Assert.ThrowsAsync<ArgumentException>(() => generator.GenerateImagesAsync("a star", new ImageGenerationOptions { ImageSize = new System.Drawing.Size(512, 512) }));
        await Assert.ThrowsAsync<ArgumentException>(() => generator.GenerateImagesAsync("a star", new ImageGenerationOptions { ModelId = "another-model" }));
        await Assert.ThrowsAsync<ArgumentException>(() => generator.GenerateImagesAsync("a star", new ImageGenerationOptions { Count = 0 }));
        var e = await Assert.ThrowsAsync<ArgumentException>(() => generator.GenerateImagesAsync("a star", new ImageGenerationOptions { AdditionalProperties = new() { [Sjd2GenerationProperties.Method] = "telepathy" } }));
        Assert.Contains("telepathy", e.Message);
        await Assert.ThrowsAsync<Sjd2Exception>(() => generator.GenerateImagesAsync("a star", new ImageGenerationOptions { AdditionalProperties = new() { [Sjd2GenerationProperties.TopP] = 2f } }));
        // The same prompt rule as the command line and the server: an unknown word is named.
        Assert.Contains("'pink'", (await Assert.ThrowsAsync<Sjd2Exception>(() => generator.GenerateImagesAsync("a pink star"))).Message);
    }

    [Fact]
    public void TheDefaultMethodIsTheEnginesAsInEveryEntryPoint()
    {
        Assert.Equal(new GenerationOptions().Method, new Sjd2ImageGeneratorOptions().Method);
        Assert.Equal(DecodingMethod.SjdPlusPlus, new GenerationOptions().Method);
    }

    [Fact]
    public async Task CancellationStopsTheRequestAndIsLogged()
    {
        var logs = new CollectingLoggerProvider();
        using var factory = LoggerFactory.Create(b => b.AddProvider(logs));
        using var generator = Sjd2ImageGenerator.Load(new Sjd2ImageGeneratorOptions { ModelPath = TestPaths.Model("tiny") }, factory);
        using var cancel = new CancellationTokenSource();
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => generator.GenerateImagesAsync("a star", new ImageGenerationOptions { Count = 3 }, cancel.Token));
        Assert.Contains(logs.Entries, e => e.EventId.Id == 4 && e.Message.Contains("after 0 of 3"));
    }

    [Fact]
    public void AMissingModelPathIsAConfigurationError()
    {
        var services = new ServiceCollection();
        services.AddSjd2ImageGenerator(new ConfigurationBuilder().Build());
        using var provider = services.BuildServiceProvider();
        var e = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IImageGenerator>());
        Assert.Contains("ModelPath", e.Message);
    }
}
