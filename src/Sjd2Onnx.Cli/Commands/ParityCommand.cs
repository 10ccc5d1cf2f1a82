using System.CommandLine;
using Sjd2Onnx.Cli.Options;
using Sjd2Onnx.Model;

namespace Sjd2Onnx.Cli.Commands;

/// <summary><c>sjd2 parity --model DIR</c>: ONNX Runtime outputs against the PyTorch reference cases.</summary>
internal sealed class ParityCommand
{
    private readonly ModelOptions _model = new();

    /// <summary>The <c>parity</c> command.</summary>
    public static Command Create()
    {
        var parity = new ParityCommand();
        var command = new Command("parity", "ONNX Runtime outputs against the PyTorch reference cases of the export (parity.json); exit 1 above the tolerance.");
        parity._model.AddTo(command, withDevice: false);
        command.SetAction(parity.Run);
        return command;
    }

    private int Run(ParseResult parse)
    {
        string dir = _model.Folder(parse);
        var (results, tolerance) = ParityCheck.Run(dir, _model.ProviderOf(parse));
        double worst = 0;
        foreach (var r in results)
        {
            Console.WriteLine($"case {r.Case} {r.Graph}.{r.Output}: max |onnx - torch| = {r.MaxAbsDiff:E2}");
            worst = Math.Max(worst, r.MaxAbsDiff);
        }
        bool ok = worst <= tolerance;
        Console.WriteLine($"parity {(ok ? "ok" : "FAILED")}: max difference {worst:E2} (tolerance {tolerance:E0}) over {results.Count} outputs");
        return ok ? ExitCodes.Success : ExitCodes.Failure;
    }
}
