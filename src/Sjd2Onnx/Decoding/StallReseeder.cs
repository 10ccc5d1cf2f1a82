namespace Sjd2Onnx.Decoding;

/// <summary>
/// Breaks stall cascades. When a draft is rejected and its slot resampled, every later draft of
/// the window was predicted with the rejected token in its context; where neighbouring codes are
/// strongly coupled (a texture's phase, an edge) those drafts follow the rejected continuation,
/// the next pass rejects the first of them again, and the Jacobi update keeps them consistent
/// with each other rather than with the committed image: each pass then commits one token, for
/// dozens of passes at wide windows. After <c>threshold</c> passes in a row that committed one
/// token, the drafts after the new token are re-seeded from it: the rest of its row repeats the
/// code to the left, rows below copy the code above. The new drafts are a deterministic function of
/// what is committed and drafted, so their q is one-hot and every decoder stays exact.
/// </summary>
internal sealed class StallReseeder(int threshold, ImageLayout layout, PassStatistics statistics)
{
    private int _stalls;

    /// <summary>
    /// Counts a pass that fed <paramref name="fed"/> tokens and committed <paramref name="committed"/>;
    /// true when the drafts after its new token should be re-seeded.
    /// </summary>
    public bool AfterPass(int committed, int fed)
    {
        _stalls = committed == 1 && fed > 1 ? _stalls + 1 : 0;
        if (threshold <= 0 || _stalls < threshold) return false;
        statistics.Reseeds++;
        return true;
    }

    /// <summary>Re-seeds the drafts of slots after <paramref name="newSlot"/> through <paramref name="through"/>.</summary>
    public void Reseed(DraftState drafts, int newSlot, int through)
    {
        for (int slot = newSlot + 1; slot <= through; slot++)
            if (!layout.IsForced(slot)) drafts.SetOneHot(slot, Token(drafts, newSlot, slot));
    }

    /// <summary>
    /// The re-seeded draft of <paramref name="slot"/> (a code slot after <paramref name="newSlot"/>),
    /// read from the current codes: re-seed slots in order so that each sees the ones before it.
    /// </summary>
    public int Token(DraftState drafts, int newSlot, int slot)
    {
        int code = layout.CodeIndex(slot);
        // A code later in the new token's row has its left neighbour in that row, at or after the new token.
        bool sameRow = slot / layout.SlotsPerRow == newSlot / layout.SlotsPerRow;
        return drafts.Current[sameRow ? code - 1 : code - layout.Cols];
    }
}
