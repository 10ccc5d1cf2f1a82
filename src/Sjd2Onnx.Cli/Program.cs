using Sjd2Onnx.Cli;

// sjd2: command-line front end of the Sjd2Onnx engine (commands in CliApp, exit codes in ExitCodes,
// Ctrl+C in Interrupts, closed streams in StandardStreams).
using var cancel = new CancellationTokenSource();
Interrupts.Install(cancel);
StandardStreams.Guard();
return await CliApp.RunAsync(args, cancel.Token);
