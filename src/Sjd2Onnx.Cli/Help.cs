namespace Sjd2Onnx.Cli;

/// <summary>The text of <c>sjd2 help</c>.</summary>
internal static class Help
{
    public const string Text = """
        sjd2 — text-to-image with autoregressive image-token models in ONNX

        usage:
          sjd2 generate "<prompt>" --out a.png [--method ar] [--seed N] [--count N]
                        [--cfg S] [--temperature T] [--top-k K] [--top-p P]
                        [--model DIR] [--ep cpu|cuda|dml] [--device-id N] [--quiet]
          sjd2 info    [--model DIR] [--ep cpu|cuda|dml]
          sjd2 parity  [--model DIR]     ONNX outputs vs the PyTorch reference cases of the export

        Without --model, the model in the repository's onnx/ folder is used.
        Sampling options default to the model's manifest (sjd2 info shows them).
        """;
}
