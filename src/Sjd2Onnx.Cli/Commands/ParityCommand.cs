using Sjd2Onnx.Model;

namespace Sjd2Onnx.Cli.Commands;

/// <summary><c>sjd2 parity --model DIR</c>: ONNX Runtime outputs against the PyTorch reference cases.</summary>
internal static class ParityCommand
{
    public static int Run(CommandLine cl)
    {
        string dir = ModelLocator.Resolve(cl.String("model"));
        var provider = CommonOptions.ParseProvider(cl.String("ep") ?? "cpu");
        cl.RejectUnknown("parity");
        var (results, tolerance) = ParityCheck.Run(dir, provider);
        double worst = 0;
        foreach (var r in results)
        {
            Console.WriteLine($"case {r.Case} {r.Graph}.{r.Output}: max |onnx - torch| = {r.MaxAbsDiff:E2}");
            worst = Math.Max(worst, r.MaxAbsDiff);
        }
        bool ok = worst <= tolerance;
        Console.WriteLine($"parity {(ok ? "ok" : "FAILED")}: max difference {worst:E2} (tolerance {tolerance:E0}) over {results.Count} outputs");
        return ok ? 0 : 1;
    }
}
