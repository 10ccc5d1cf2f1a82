using Sjd2Onnx.Cli;

// sjd2: command-line front end of the Sjd2Onnx engine (commands in CliApp, exit codes in ExitCodes).
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancel.Cancel(); };
return await CliApp.RunAsync(args, cancel.Token);
