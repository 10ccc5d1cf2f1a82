using System.ClientModel;
using System.ClientModel.Primitives;
using OpenAI;
using OpenAI.Images;
using Sjd2Onnx.Server.Tests.Support;

namespace Sjd2Onnx.Server.Tests;

/// <summary>The official OpenAI .NET client, pointed at the server on a real Kestrel.</summary>
public class OpenAiSdkTests
{
    [Fact]
    public async Task TheOpenAiClientGeneratesImagesAndReadsOurErrors()
    {
        await using var host = await ServerHost.KestrelAsync(ServerHost.Options(TestPaths.Model("tiny")));
        var client = new ImageClient("tiny", new ApiKeyCredential("no-key-needed"), new OpenAIClientOptions
        {
            Endpoint = new Uri(host.BaseAddress, "/v1"),
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
        });
        var options = new ImageGenerationOptions { ResponseFormat = GeneratedImageFormat.Bytes, Size = new GeneratedImageSize(16, 16) };

        GeneratedImage image = await client.GenerateImageAsync("a red circle above a blue square", options);
        Assert.Equal((16, 16), Png.Size(image.ImageBytes.ToArray()));

        GeneratedImageCollection images = await client.GenerateImagesAsync("a small green triangle", 3, options);
        Assert.Equal(3, images.Count);
        Assert.All(images, i => Assert.Equal((16, 16), Png.Size(i.ImageBytes.ToArray())));
        // No check that the three differ: the SDK sends no seed, so the server draws one, and the
        // tiny model repeats its likeliest image about one time in ten (three seeds share an image
        // in about one request of thirty). ImageApiTests checks consecutive seeds with a fixed one.
        Assert.InRange(images.CreatedAt, DateTimeOffset.UtcNow.AddMinutes(-10), DateTimeOffset.UtcNow.AddMinutes(1));

        var error = await Assert.ThrowsAsync<ClientResultException>(() => client.GenerateImageAsync("a red circle",
            new ImageGenerationOptions { ResponseFormat = GeneratedImageFormat.Bytes, Size = GeneratedImageSize.W1024xH1024 }));
        Assert.Equal(400, error.Status);
        Assert.Contains("16x16", error.Message);

        var tooMany = await Assert.ThrowsAsync<ClientResultException>(() => client.GenerateImagesAsync("a red circle", 50, options));
        Assert.Equal(400, tooMany.Status);
    }
}
