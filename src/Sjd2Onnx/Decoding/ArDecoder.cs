namespace Sjd2Onnx.Decoding;

/// <summary>Plain autoregressive decoding: one pass per image token, the baseline every method is compared with.</summary>
internal sealed class ArDecoder : IImageTokenDecoder
{
    public int MaxWindow => 1;

    public int[] Decode(DecodingContext ctx)
    {
        var layout = ctx.Layout;
        var codes = new int[layout.CodeCount];
        var probs = new float[ctx.Codebook];
        Span<int> fed = stackalloc int[1];
        int position = ctx.PrefixLength - 1; // window position whose logits predict the next slot
        for (int slot = 0; slot <= layout.LastCodeSlot; slot++)
        {
            if (!layout.IsForced(slot))
            {
                ctx.Distribution(position, probs);
                fed[0] = Sampling.Categorical.Sample(probs, ctx.Random);
                codes[layout.CodeIndex(slot)] = fed[0];
            }
            if (slot == layout.LastCodeSlot) { ctx.ReportCommitted(1, slot + 1, codes); break; }
            ctx.EmbedSlots(slot, fed, 1);
            ctx.RunWindow(1);
            ctx.Commit(1);
            position = 0;
            ctx.ReportCommitted(1, slot + 1, codes);
        }
        return codes;
    }
}
