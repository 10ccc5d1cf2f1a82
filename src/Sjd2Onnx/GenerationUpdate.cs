using Sjd2Onnx.Decoding;

namespace Sjd2Onnx;

/// <summary>
/// One step of <see cref="Sjd2Pipeline.GenerateWithPreviewsAsync"/>: a preview after a pass, or
/// (last) the finished image. Previews are snapshots: their arrays belong to the caller and do
/// not change when decoding goes on.
/// </summary>
/// <param name="Progress">The pass's progress: committed codes and, for speculative methods, the current drafts.</param>
/// <param name="Result">The finished image; set on the last update only.</param>
public sealed record GenerationUpdate(DecodeProgress Progress, GenerationResult? Result);
