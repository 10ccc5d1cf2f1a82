using Sjd2Onnx.Sampling;

namespace Sjd2Onnx.Decoding;

/// <summary>
/// Fills new draft slots at the end of the window with a spatial prior. Every rule is
/// deterministic given what is already drafted or committed, so q is one-hot on the draft — the
/// verifier stays exact whatever the prior.
/// </summary>
internal sealed class DraftInitializer(DraftInitialization rule, ImageLayout layout, DraftState drafts, int codebook, SeededRandom rng)
{
    /// <summary>Gives every slot up to <paramref name="lastSlot"/> that has never been drafted an initial draft.</summary>
    public void FillThrough(int lastSlot)
    {
        for (int slot = drafts.DraftedThrough + 1; slot <= lastSlot; slot++)
        {
            if (!layout.IsForced(slot)) drafts.SetOneHot(slot, Initial(layout.CodeIndex(slot)));
        }
        if (lastSlot > drafts.DraftedThrough) drafts.DraftedThrough = lastSlot;
    }

    /// <summary>The prior's token for a code index (row-major), from what is committed or drafted before it.</summary>
    public int Initial(int code)
    {
        int above = code - layout.Cols, left = code - 1;
        return rule switch
        {
            DraftInitialization.Vertical when above >= 0 => drafts.Current[above],
            DraftInitialization.Vertical or DraftInitialization.Horizontal when left >= 0 => drafts.Current[left],
            _ => rng.NextInt(codebook),
        };
    }
}
