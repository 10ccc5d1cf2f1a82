using Sjd2Onnx.Model;

namespace Sjd2Onnx.Decoding;

/// <summary>
/// The image part of the sequence as slots: each row holds <c>width</c> code slots, followed by a
/// forced end-of-line slot when the model has one. Slot i is predicted by the logits of slot i−1.
/// </summary>
internal sealed class ImageLayout
{
    public ImageLayout(ImageSpec image, long? endOfLineId)
    {
        Rows = image.GridHeight;
        Cols = image.GridWidth;
        EndOfLineId = endOfLineId;
        SlotsPerRow = Cols + (endOfLineId is null ? 0 : 1);
        SlotCount = Rows * SlotsPerRow;
        LastCodeSlot = SlotOf(Rows * Cols - 1);
    }

    public int Rows { get; }
    public int Cols { get; }
    public long? EndOfLineId { get; }
    public int SlotsPerRow { get; }
    public int SlotCount { get; }
    public int CodeCount => Rows * Cols;

    /// <summary>The slot of the last image code: decoding can stop once it is committed.</summary>
    public int LastCodeSlot { get; }

    public bool IsForced(int slot) => slot % SlotsPerRow >= Cols;

    /// <summary>Code index (row·cols + col) of a slot, or −1 for a forced slot.</summary>
    public int CodeIndex(int slot)
    {
        int row = slot / SlotsPerRow, col = slot % SlotsPerRow;
        return col < Cols ? row * Cols + col : -1;
    }

    public int SlotOf(int codeIndex) => codeIndex / Cols * SlotsPerRow + codeIndex % Cols;
}
