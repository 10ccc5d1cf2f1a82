namespace Sjd2Onnx.Cli.Commands;

/// <summary>One generation of <c>sjd2 bench</c>.</summary>
/// <param name="Prompt">The prompt.</param>
/// <param name="Seed">The seed.</param>
/// <param name="Nfe">Transformer passes, prefill included.</param>
/// <param name="LatencyMs">Wall time of the whole generation (VQ decoding included).</param>
/// <param name="AcceptedPerPass">Slots committed per pass.</param>
/// <param name="HostShare">Share of decode time outside ONNX Runtime.</param>
/// <param name="Correct">ShapesEval verdict; null without an evaluator.</param>
/// <param name="CommittedPerPass">Slots committed by each pass after the prefill.</param>
/// <param name="FedPerPass">Tokens fed by each pass after the prefill.</param>
/// <param name="TransferBytesPerPass">Host bytes bound plus read back per transformer pass.</param>
/// <param name="KvBytesPerPass">Of those, the KV cache's.</param>
/// <param name="Breakdown">Where the generation's wall time went, in milliseconds.</param>
/// <param name="Reseeds">Passes after which the drafts were re-seeded to break a stall cascade.</param>
/// <param name="ReadBackBytesPerPass">Of <paramref name="TransferBytesPerPass"/>, the bytes read back (logits, or the top k sampled on the provider).</param>
internal sealed record BenchRun(string Prompt, ulong Seed, int Nfe, double LatencyMs, double AcceptedPerPass, double HostShare, bool? Correct,
    IReadOnlyList<int> CommittedPerPass, IReadOnlyList<int> FedPerPass, double TransferBytesPerPass = 0, double KvBytesPerPass = 0,
    TimeBreakdown? Breakdown = null, int Reseeds = 0, double ReadBackBytesPerPass = 0);
