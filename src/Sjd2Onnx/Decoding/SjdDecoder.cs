using System.Diagnostics;
using System.Runtime.CompilerServices;
using Sjd2Onnx.Sampling;

namespace Sjd2Onnx.Decoding;

/// <summary>
/// Speculative Jacobi decoding (SJD) and, with a reuse threshold, SJD++-style draft reuse. A pass
/// feeds the window [anchor, d_n .. d_{n+s−2}]: the anchor is the last committed token (its KV
/// not yet cached) and d are drafts of the next slots. Output j of the pass is the distribution of
/// slot n+j. Drafts are verified in order with the speculative rule; the first rejection draws
/// from the residual, and if every draft passes, the last output gives a bonus token. The pass
/// commits the accepted drafts plus that one token (so never fewer tokens than AR) and keeps the
/// KV rows of the anchor and the accepted drafts. Every slot after the new token gets a fresh
/// sample of this pass's output as its next draft (the Jacobi update), or with reuse keeps its
/// old draft where a lossless rule allows (<see cref="DraftReuse"/>). Forced end-of-line slots are
/// fed as their token and always "accepted". Both variants are lossless: the committed codes are
/// distributed exactly as AR's.
/// </summary>
internal sealed class SjdDecoder(SpeculativeSettings settings, WindowTuner? tuner) : IImageTokenDecoder
{
    public int MaxWindow => settings.Window;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int[] Decode(DecodingContext ctx)
    {
        var layout = ctx.Layout;
        var rng = ctx.Random;
        int k = ctx.Codebook, maxWindow = ctx.MaxWindow, last = layout.LastCodeSlot;
        // Drafts exist for slots n .. n+maxWindow−1 at most (the bonus slot included).
        var drafts = new DraftState(layout, k, maxWindow + 1);
        var verifier = new SpeculativeVerifier(k, settings.AcceptEveryDraft);
        var init = new DraftInitializer(settings.Init ?? GenerationOptions.DefaultDraftInit, layout, drafts, k, rng);
        var p = new float[k];
        var tokens = new int[maxWindow];
        var reuse = settings.Reuse;
        var reseeder = new StallReseeder(settings.ReseedAfterStalls, layout, ctx.Statistics);

        // The prefill's last output is slot 0's distribution: that pass commits slot 0.
        ctx.Distribution(ctx.PrefixLength - 1, p);
        drafts.Commit(0, Categorical.Sample(p, rng));
        drafts.DraftedThrough = 0; // slot 0 is committed: no draft may overwrite it
        ctx.ReportCommitted(1, 1, drafts.Committed, drafts.Current);

        int n = 1; // committed slots; slot n−1 is the anchor
        while (n <= last)
        {
            long start = Stopwatch.GetTimestamp();
            int window = settings.AutoWindow && tuner is not null ? tuner.Choose(maxWindow) : maxWindow;
            // Inputs are slots n−1 .. n+s−2; the last code slot never needs to be fed.
            int s = Math.Min(window, last - n + 1);
            init.FillThrough(n + s - 2);
            for (int j = 0; j < s; j++) tokens[j] = drafts.Token(n - 1 + j);
            ctx.EmbedSlots(n - 1, tokens, s);
            ctx.RunWindow(s);

            // Verification: output j is the distribution of slot n+j.
            int newSlot = -1;
            for (int j = 0; j < s - 1; j++)
            {
                int slot = n + j;
                if (layout.IsForced(slot)) continue; // the forced token is the only possible one
                ctx.Distribution(j, p);
                int d = drafts.Token(slot);
                if (verifier.Accept(p, d, drafts.Q(slot), rng))
                {
                    drafts.Commit(slot, d);
                }
                else
                {
                    drafts.Commit(slot, verifier.Resample(p, d, drafts.Q(slot), rng));
                    newSlot = slot;
                    break;
                }
            }
            bool rejected = newSlot >= 0;
            if (!rejected)
            {
                // Every draft passed: the last output gives a bonus token.
                newSlot = n + s - 1;
                if (!layout.IsForced(newSlot))
                {
                    ctx.Distribution(s - 1, p);
                    drafts.Commit(newSlot, Categorical.Sample(p, rng));
                }
            }
            // Keep the anchor and the accepted drafts; the new token is the next anchor.
            ctx.Commit(newSlot - n + 1);

            // Jacobi update (or reuse) of every slot this pass predicted beyond the new token,
            // unless a stall cascade has set in: then the drafts are re-seeded from the new token.
            bool reseed = reseeder.AfterPass(newSlot - n + 1, s);
            if (reseed) reseeder.Reseed(drafts, newSlot, n + s - 1);
            for (int slot = newSlot + 1; !reseed && slot <= n + s - 1; slot++)
            {
                if (layout.IsForced(slot)) continue;
                ctx.Distribution(slot - n, p);
                if (reuse == DraftReuse.Coupled && drafts.HasDraft(slot))
                {
                    drafts.SetSampled(slot, verifier.Couple(p, drafts.Token(slot), drafts.Q(slot), rng), p);
                }
                else if (reuse == DraftReuse.Threshold && drafts.HasDraft(slot))
                {
                    bool oneHot = drafts.IsOneHot(slot);
                    int kept = SpeculativeVerifier.Reuse(p, drafts.Token(slot), ref oneHot, drafts.QBuffer(slot), settings.ReuseThreshold, rng);
                    drafts.SetToken(slot, kept, oneHot);
                }
                else
                {
                    drafts.SetSampled(slot, Categorical.Sample(p, rng), p);
                }
            }
            if (n + s - 1 > drafts.DraftedThrough) drafts.DraftedThrough = n + s - 1;

            ctx.ReportCommitted(newSlot - n + 1, newSlot + 1, drafts.Committed, drafts.Current);
            tuner?.Record(s, Stopwatch.GetElapsedTime(start).TotalSeconds, newSlot - n + 1);
            n = newSlot + 1;
        }
        return drafts.Committed;
    }
}
