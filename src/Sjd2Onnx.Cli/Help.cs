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
          sjd2 eval    --prompts N|FILE [--json out.json] [--images DIR] [--method ar] [--seed S]
                       [sampling, --model, --ep options as for generate] [--world FILE] [--quiet]
                       shapes demo model: generate one image per prompt and score it (per attribute
                       and overall) for N grammar prompts and N held-out colour+shape prompts
          sjd2 eval    --validate DIR [--world FILE] [--json out.json]
                       the scorer on rendered ground truth (e.g. tests/data/shapes): agreement

        Without --model, the model in the repository's onnx/ folder is used.
        Sampling options default to the model's manifest (sjd2 info shows them).
        """;
}
