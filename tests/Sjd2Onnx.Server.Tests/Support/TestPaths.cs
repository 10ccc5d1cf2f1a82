namespace Sjd2Onnx.Server.Tests.Support;

/// <summary>Locates the repository, its models and the sjd2 CLI beside the test assembly.</summary>
internal static class TestPaths
{
    private static readonly Lazy<string> Root = new(FindRoot);

    /// <summary>The folder holding Sjd2Onnx.sln.</summary>
    public static string RepoRoot => Root.Value;

    /// <summary>A committed test model under tests/models (tiny, micro, …).</summary>
    public static string Model(string name) => Existing(Path.Combine(RepoRoot, "tests", "models", name));

    /// <summary>The default model in onnx/.</summary>
    public static string DefaultModel => Existing(Path.Combine(RepoRoot, "onnx"));

    /// <summary>sjd2.dll, copied beside the tests through the project reference.</summary>
    public static string CliDll
    {
        get
        {
            string path = Path.Combine(AppContext.BaseDirectory, "sjd2.dll");
            return File.Exists(path) ? path : throw new InvalidOperationException($"sjd2.dll not found beside the tests ({path})");
        }
    }

    private static string Existing(string dir) =>
        File.Exists(Path.Combine(dir, "model.json")) ? dir : throw new InvalidOperationException($"no model at {dir}");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Sjd2Onnx.sln"))) return dir.FullName;
        throw new InvalidOperationException($"no Sjd2Onnx.sln above {AppContext.BaseDirectory}");
    }
}
