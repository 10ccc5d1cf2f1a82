using Sjd2Onnx;
using Sjd2Onnx.Cli;
using Sjd2Onnx.Cli.Commands;

// sjd2: command-line front end of the Sjd2Onnx engine. Errors are one line on stderr, exit code 2.
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancel.Cancel(); };

if (args.Length == 0 || args[0] is "help" or "--help" or "-h")
{
    Console.WriteLine(Help.Text);
    return args.Length == 0 ? 2 : 0;
}

try
{
    var flags = new HashSet<string> { "quiet", "verbose", "exact-kv", "approx-kv", "held-out" };
    var cl = new CommandLine(args.Skip(1), flags);
    return args[0] switch
    {
        "generate" => await GenerateCommand.RunAsync(cl, cancel.Token),
        "info" => InfoCommand.Run(cl),
        "bench" => await BenchCommand.RunAsync(cl, cancel.Token),
        "parity" => ParityCommand.Run(cl),
        "eval" => await EvalCommand.RunAsync(cl, cancel.Token),
        _ => throw new UsageException($"unknown command '{args[0]}'; see 'sjd2 help'."),
    };
}
catch (Exception e) when (e is UsageException or Sjd2Exception)
{
    Console.Error.WriteLine($"sjd2: error: {e.Message}");
    return 2;
}
catch (OperationCanceledException)
{
    Console.Error.WriteLine("sjd2: cancelled.");
    return 130;
}
