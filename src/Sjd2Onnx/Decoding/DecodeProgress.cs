namespace Sjd2Onnx.Decoding;

/// <summary>
/// Progress of one image: passes so far, committed slots, and the codes (committed plus current drafts).
/// Each report is a snapshot the receiver owns: its arrays are copies that the decoder never touches
/// again, so a receiver may keep them (e.g. through <see cref="Progress{T}"/>, which reports later on
/// another thread) and they still show the codes of pass <see cref="Pass"/>.
/// </summary>
/// <param name="Pass">Forward passes so far (prefill included).</param>
/// <param name="CommittedSlots">Image slots committed.</param>
/// <param name="TotalSlots">Image slots in all.</param>
/// <param name="Codes">Committed codes (row-major, h·w); not-yet-committed entries are 0 or the current draft. A copy owned by the receiver.</param>
/// <param name="DraftCodes">For speculative decoders: committed codes plus the current drafts, a full preview. A copy owned by the receiver.</param>
public sealed record DecodeProgress(int Pass, int CommittedSlots, int TotalSlots, int[] Codes, int[]? DraftCodes);
