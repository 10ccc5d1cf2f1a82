using Sjd2Onnx.Server.Tests.Support;

namespace Sjd2Onnx.Server.Tests;

/// <summary>One in-process server on the tiny test model (4×4 codes, 16×16 pixels), shared by a test class.</summary>
public sealed class TinyServerFixture : IAsyncLifetime
{
    internal ServerHost Host { get; private set; } = null!;

    public async Task InitializeAsync() =>
        Host = await ServerHost.InProcessAsync(ServerHost.Options(TestPaths.Model("tiny"), maxConcurrent: 2) with { MaxImagesPerRequest = 4 });

    public async Task DisposeAsync() => await Host.DisposeAsync();
}
