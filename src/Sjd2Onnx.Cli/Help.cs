namespace Sjd2Onnx.Cli;

/// <summary>The text of <c>sjd2 help</c>.</summary>
internal static class Help
{
    public const string Text = """
        sjd2 — text-to-image with autoregressive image-token models in ONNX

        usage:
          sjd2 generate "<prompt>" --out a.png [--method ar|sjd|sjd++|pac|sjd2] [--seed N] [--count N]
                        [--cfg S] [--temperature T] [--top-k K] [--top-p P]
                        [--window N|auto] [--init random|horizontal|vertical|noise]
                        [--reuse coupled|threshold] [--reuse-threshold T]
                        [--denoise-steps N] [--kv exact|approx] [--accept-noise S] [--tree WxD]
                        [--trace DIR] [--model DIR] [--ep cpu|cuda|dml] [--device-id N] [--quiet]
          sjd2 bench   [--methods ar,sjd,sjd++,sjd2] [--prompts N|FILE] [--held-out] [--seeds S]
                       [--seed BASE] [--warmup N] [--json PATH] [--model DIR] [--ep ...]
                       [generate's sampling and decoding options]
                       methods interleaved per (prompt, seed): NFE, step compression, latency,
                       speedup, accepted/pass, host share, ShapesEval accuracy (shapes models);
                       a method may carry its own options, e.g. sjd2:kv=exact:window=24
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

        methods: ar one token per pass; sjd speculative Jacobi decoding (lossless); sjd++ sjd with
        draft reuse (lossless; --reuse coupled, the default, or threshold with --reuse-threshold,
        default 0.1); pac sjd++ (coupled) with proactive drafting: a tree of W candidates per slot
        for the D slots after the anchor (--tree WxD, default 3x1; lossless; models without tree
        attention decode chains); sjd2 Jacobi-denoising decoding (models trained for it; --denoise-steps,
        default the model's; --kv exact, the default, or approx; --accept-noise S in [0, 1]:
        commit only through outputs whose inputs were fed at noise level <= S, 1 by default as
        published, 0 with --kv exact lossless).
        --init: new drafts copy the code above (vertical, the default for sjd and sjd++), to the
        left (horizontal) or a random code; sjd2 starts slots as pure noise (noise, its default)
        or seeds them with such a prior, noised to the middle of its schedule.
        --window: tokens per pass, default 16; auto picks it from measured pass costs and
        acceptance (it never does worse than ar by more than its probes; not bit-reproducible).
        --trace DIR: commit-pass heat map and one preview per pass (committed codes + drafts).
        """;
}
