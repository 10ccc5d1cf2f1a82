using System.Diagnostics;
using System.Text.RegularExpressions;
using Sjd2Onnx.Imaging;
using Sjd2Onnx.Tests.Support;

namespace Sjd2Onnx.Tests;

/// <summary>
/// The packages as a user gets them: everything packed into a local folder, the sjd2 tool
/// installed from it into a temporary tool path, and a fresh console app that adds the packages
/// from it, registers the generator with DI and generates through IImageGenerator. Packs the
/// already-built assemblies (--no-build), so it takes about a minute; CI runs it with the rest
/// (skip locally with --filter "Category!=Packaging").
/// </summary>
[Trait("Category", "Packaging")]
public partial class PackagingTests
{
#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif

    [Fact]
    public void PackedToolAndPackagesWorkFromALocalFolder()
    {
        using var temp = new TempDir();
        string feed = temp.File("feed");
        string props = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "Directory.Build.props"));
        string version = VersionElement().Match(props).Groups[1].Value;
        string ortVersion = OnnxRuntimeVersionElement().Match(props).Groups[1].Value;

        Dotnet(TestPaths.RepoRoot, "pack", Path.Combine(TestPaths.RepoRoot, "Sjd2Onnx.sln"), "--no-build", "-c", Configuration, "-o", feed);
        foreach (var id in new[] { "Sjd2Onnx", "Sjd2Onnx.Shapes", "Sjd2Onnx.TextureWorld", "Sjd2Onnx.Extensions.AI", "Sjd2Onnx.Server", "Sjd2Onnx.Cli" })
        {
            Assert.True(File.Exists(Path.Combine(feed, $"{id}.{version}.nupkg")), $"{id}.{version}.nupkg not packed");
            Assert.True(File.Exists(Path.Combine(feed, $"{id}.{version}.snupkg")), $"{id}.{version}.snupkg not packed");
        }

        // The tool, installed from the folder into a tool path of its own.
        string tools = temp.File("tools");
        Dotnet(temp.Path, "tool", "install", "Sjd2Onnx.Cli", "--tool-path", tools, "--add-source", feed, "--version", version);
        string sjd2 = Path.Combine(tools, OperatingSystem.IsWindows() ? "sjd2.exe" : "sjd2");
        Assert.Equal(version, Run(sjd2, temp.Path, "--version").Trim());
        string png = temp.File("tool.png");
        Run(sjd2, temp.Path, "generate", "a red circle", "--model", TestPaths.Model("tiny"), "--seed", "2", "--out", png);
        Assert.Equal("a red circle", PngMetadata.Read(File.ReadAllBytes(png))?.Prompt);
        // Out of the box: from an empty folder outside any clone, without --model, the tool finds the
        // default model it carries.
        string empty = temp.File("empty");
        Directory.CreateDirectory(empty);
        Run(sjd2, empty, "generate", "a red circle", "--out", "x.png");
        Assert.Equal("shapes-demo", PngMetadata.Read(File.ReadAllBytes(Path.Combine(empty, "x.png")))?.Model);

        // A fresh console app on the packages: DI registration, IImageGenerator, a PNG.
        string app = temp.File("app");
        Directory.CreateDirectory(app);
        File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <config><add key="globalPackagesFolder" value="packages" /></config>
              <packageSources><add key="sjd2-local" value="{feed}" /></packageSources>
              <fallbackPackageFolders><add key="user" value="{UserPackagesFolder()}" /></fallbackPackageFolders>
            </configuration>
            """);
        File.WriteAllText(Path.Combine(app, "app.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <Nullable>enable</Nullable>
                <NoWarn>MEAI001</NoWarn>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Sjd2Onnx.Extensions.AI" Version="{version}" />
                <PackageReference Include="Microsoft.ML.OnnxRuntime" Version="{ortVersion}" />
                <PackageReference Include="Microsoft.Extensions.Configuration" Version="10.0.13" />
                <PackageReference Include="Microsoft.Extensions.DependencyInjection" Version="10.0.13" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(app, "Program.cs"), """
            using Microsoft.Extensions.AI;
            using Microsoft.Extensions.Configuration;
            using Microsoft.Extensions.DependencyInjection;

            var configuration = new ConfigurationBuilder()
                .AddInMemoryCollection(new Dictionary<string, string?> { ["Sjd2:ModelPath"] = args[0], ["Sjd2:Method"] = "Sjd" })
                .Build();
            var services = new ServiceCollection();
            services.AddSjd2ImageGenerator(configuration);
            using var provider = services.BuildServiceProvider();
            var generator = provider.GetRequiredService<IImageGenerator>();
            var response = await generator.GenerateImagesAsync("a blue square",
                new ImageGenerationOptions { AdditionalProperties = new() { ["seed"] = 4UL } });
            var image = response.Contents.OfType<DataContent>().Single();
            await File.WriteAllBytesAsync(args[1], image.Data.ToArray());
            Console.WriteLine(image.MediaType);
            """);
        string appPng = temp.File("app.png");
        string output = Dotnet(app, "run", "--", TestPaths.Model("tiny"), appPng);
        Assert.Contains("image/png", output);
        var metadata = PngMetadata.Read(File.ReadAllBytes(appPng));
        Assert.Equal(("a blue square", 4UL, DecodingMethod.Sjd), (metadata?.Prompt, metadata?.Seed, metadata?.Method));
    }

    private static string UserPackagesFolder() =>
        Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } p ? p
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");

    private static string Dotnet(string workingDirectory, params string[] args)
    {
        string host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h && File.Exists(h) ? h : "dotnet";
        return Run(host, workingDirectory, args);
    }

    private static string Run(string file, string workingDirectory, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = workingDirectory };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        psi.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        // No build servers left running after the test (MSBuild nodes, the compiler server).
        psi.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        psi.Environment["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0";
        psi.Environment["UseSharedCompilation"] = "false";
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {file}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(8)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish in 8 minutes");
        }
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{Path.GetFileName(file)} {string.Join(' ', args)}: exit {p.ExitCode}\n{stdout.Result}\n{stderr.Result}");
        return stdout.Result;
    }

    [GeneratedRegex(@"<Version>([^<]+)</Version>")]
    private static partial Regex VersionElement();

    [GeneratedRegex(@"<OnnxRuntimeVersion>([^<]+)</OnnxRuntimeVersion>")]
    private static partial Regex OnnxRuntimeVersionElement();
}
