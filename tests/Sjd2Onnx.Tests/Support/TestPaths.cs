namespace Sjd2Onnx.Tests.Support;

/// <summary>Locates the repository, the committed test models and the sjd2 CLI next to the test assembly.</summary>
internal static class TestPaths
{
    private static readonly Lazy<string> Root = new(FindRoot);

    /// <summary>The folder holding Sjd2Onnx.sln, found by walking up from the test output folder.</summary>
    public static string RepoRoot => Root.Value;

    /// <summary>A committed test model: tiny, tiny-eol or micro.</summary>
    public static string Model(string name)
    {
        string dir = Path.Combine(RepoRoot, "tests", "models", name);
        if (!File.Exists(Path.Combine(dir, "model.json")))
            throw new InvalidOperationException($"test model '{name}' not found at {dir}");
        return dir;
    }

    /// <summary>sjd2.dll, copied into the test output folder through the project reference.</summary>
    public static string CliDll
    {
        get
        {
            string path = Path.Combine(AppContext.BaseDirectory, "sjd2.dll");
            if (!File.Exists(path)) throw new InvalidOperationException($"sjd2.dll not found beside the tests ({path})");
            return path;
        }
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Sjd2Onnx.sln"))) return dir.FullName;
        throw new InvalidOperationException($"no Sjd2Onnx.sln above {AppContext.BaseDirectory}");
    }
}

/// <summary>A fresh folder under the system temp path, deleted on dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "sjd2-tests-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>Copies a committed test model into a subfolder and returns the copy's path.</summary>
    public string CopyModel(string name, string? as_ = null)
    {
        string src = TestPaths.Model(name);
        string dst = System.IO.Path.Combine(Path, as_ ?? name);
        for (int n = 2; Directory.Exists(dst); n++) dst = System.IO.Path.Combine(Path, $"{as_ ?? name}-{n}");
        Directory.CreateDirectory(dst);
        foreach (var f in Directory.GetFiles(src))
            System.IO.File.Copy(f, System.IO.Path.Combine(dst, System.IO.Path.GetFileName(f)));
        return dst;
    }

    public void Dispose()
    {
        try
        {
            foreach (var f in Directory.EnumerateFiles(Path, "*", SearchOption.AllDirectories))
                System.IO.File.SetAttributes(f, FileAttributes.Normal);
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
