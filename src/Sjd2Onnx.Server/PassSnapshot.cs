namespace Sjd2Onnx.Server;

/// <summary>One pass of a streamed generation, copied out of the decoder's progress report.</summary>
/// <param name="Pass">Transformer passes so far (prefill included).</param>
/// <param name="CommittedCodes">Image codes committed (a prefix in row-major order).</param>
/// <param name="Codes">Committed codes plus the current drafts, row-major.</param>
/// <param name="Elapsed">Time since the generation started.</param>
internal sealed record PassSnapshot(int Pass, int CommittedCodes, int[] Codes, TimeSpan Elapsed);
