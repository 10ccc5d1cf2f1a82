namespace Sjd2Onnx.Cli;

/// <summary>Finds the model folder: --model, or the repository's onnx/ folder.</summary>
internal static class ModelLocator
{
    public static string Resolve(string? explicitDir)
    {
        if (explicitDir is not null)
        {
            if (File.Exists(explicitDir))
                throw new UsageException($"--model '{explicitDir}' is a file; pass the model folder (the one holding model.json).");
            if (!Directory.Exists(explicitDir))
                throw new UsageException($"model folder '{explicitDir}' does not exist; pass --model with a folder made by export_models.py.");
            return explicitDir;
        }
        // The current folder (skipped when it has been removed), then the folder of sjd2 itself, where
        // the dotnet tool carries the default model.
        foreach (var start in new[] { CliApp.CurrentFolder(), AppContext.BaseDirectory }.OfType<string>())
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, "onnx");
                if (File.Exists(Path.Combine(candidate, "model.json"))) return candidate;
            }
        }
        throw new UsageException("no --model given and no onnx/model.json found above the current folder; pass --model DIR.");
    }
}
