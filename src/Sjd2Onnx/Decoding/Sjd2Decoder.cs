using System.Diagnostics;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using Sjd2Onnx.Sampling;

namespace Sjd2Onnx.Decoding;

/// <summary>
/// Speculative Jacobi-denoising decoding (SJD2) for models trained for next-clean-token
/// prediction. New slots enter the window as Gaussian noise in normalised embedding space
/// (n = (e − mean)/std, ñ = sqrt(1 − σ²)·n + σ·ε, fed as ñ·std + mean with noise level σ). Each
/// pass predicts every slot's clean token; the token sampled for a slot in one pass is its draft
/// in the next (q = the distribution it was sampled from) and is verified with the speculative
/// rule; a slot that was never sampled ends verification. Every slot not committed takes a new
/// sample x̂ ~ P (its distribution from the previous position's output): fresh as published
/// (<see cref="DraftReuse.None"/>), or by SJD++'s coupled rule, which keeps the old draft as often as
/// P allows (<see cref="DraftReuse.Coupled"/>, the default). A noisy slot takes
/// one DDIM (η = 0) step toward n̂0 = normalised embedding of x̂ on a Karras σ grid; after the last
/// level it is fed clean (a plain Jacobi draft). With one step per pass and the window sliding
/// forward, noise levels increase along the window. With a spatial prior (<c>--init</c>), a new slot
/// instead starts with the prior's token as a one-hot draft, its embedding noised to the middle
/// of the schedule. That is the published schedule (<see cref="Sjd2Schedule.PerPass"/>). With
/// <see cref="Sjd2Schedule.Window"/> (the default) a draft's level is instead set by its position
/// in the window each pass (clean at the front, σ_max at the end), and the slot is fed its current
/// draft token's normalised embedding noised to that level with the slot's own fixed ε:
/// ñ = α(σ)·n(draft) + σ·ε. That is DDIM (η = 0) toward the draft's embedding, restarted whenever
/// the draft changes, so the input always shows the token being verified, as training shows noised
/// true tokens. (Denoising the latent across drafts, or toward the expected embedding under the
/// draft's distribution, fed low-noise inputs that matched no draft: ShapesEval fell to 52–80 %.)
/// KV rows of tokens accepted while their input was noisy are kept
/// (<see cref="Sjd2KvMode.Approximate"/>), kept up to a noise limit (<see cref="Sjd2KvMode.Limit"/>),
/// or dropped and the committed tokens re-fed clean at the front of the next window
/// (<see cref="Sjd2KvMode.Exact"/>).
/// Not lossless as published: outputs after an accepted noisy input are conditioned on the noise.
/// The accept-noise limit stops verification at such outputs; at 0 with exact KV it is lossless.
/// </summary>
internal sealed class Sjd2Decoder(SpeculativeSettings settings, WindowTuner? tuner) : IImageTokenDecoder
{
    // Tokens fed above this noise level have their KV rows dropped and are re-fed clean.
    private readonly float _kvKeepNoise = settings.KvMode switch
    {
        Sjd2KvMode.Exact => 0f,
        Sjd2KvMode.Limit => settings.KvNoiseLimit,
        _ => float.PositiveInfinity,
    };

    private readonly bool _windowSchedule = settings.Schedule == Sjd2Schedule.Window;

    // Re-feeding puts up to a window of committed tokens in front of the drafts.
    public int MaxWindow => settings.KvMode == Sjd2KvMode.Approximate ? settings.Window : 2 * settings.Window;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int[] Decode(DecodingContext ctx)
    {
        var spec = settings.Noise ?? throw new InvalidOperationException("SJD2 needs the model's sjd2 section");
        var layout = ctx.Layout;
        var rng = ctx.Random;
        int k = ctx.Codebook, d = ctx.Hidden, last = layout.LastCodeSlot;
        int window = Math.Min(settings.Window, ctx.MaxWindow);
        int ring = 2 * window + 2; // slots from the first uncached one to the window's end

        float[] sigma = spec.SigmaGrid();
        var alpha = new float[sigma.Length];
        for (int i = 0; i < sigma.Length; i++) alpha[i] = Alpha(sigma[i]);
        float[] mean = spec.EmbeddingMean, std = spec.EmbeddingStd;
        var ramp = _windowSchedule ? new WindowRamp(spec, settings.WindowLevels) : null;
        var drafts = new DraftState(layout, k, ring);
        var verifier = new SpeculativeVerifier(k, settings.AcceptEveryDraft);
        var p = new float[k];
        var level = new int[ring];             // σ index of a noisy slot, −1 when fed clean
        var latent = new float[ring * d];      // per-pass: ñ of noisy slots; window: their fixed ε (normalised space)
        var clean = new float[ring * d];       // clean embedding of each slot's current token
        var fedSigma = new float[ring];        // noise level this pass fed the slot at (0: clean)
        var hasTarget = new bool[ring];        // window schedule: clean holds the draft token's embedding
        float acceptNoise = settings.AcceptNoise;
        var noise = new float[ctx.MaxWindow];
        var embedTokens = new int[window + 1];
        var embedSlots = new int[window + 1];
        var embedded = new float[(window + 1) * d];
        var x0 = new float[d];
        var prior = settings.Init is { } rule ? new DraftInitializer(rule, layout, drafts, k, rng) : null;
        int priorLevel = sigma.Length / 2;
        var reseeder = new StallReseeder(settings.ReseedAfterStalls, layout, ctx.Statistics);
        bool coupled = settings.Reuse == DraftReuse.Coupled;

        // The prefill's last output is slot 0's distribution.
        ctx.Distribution(ctx.PrefixLength - 1, p);
        drafts.Commit(0, Categorical.Sample(p, rng));
        drafts.DraftedThrough = 0; // slot 0 is committed: no draft may overwrite it
        level[0] = -1;
        ctx.EmbedCodes([drafts.Committed[0]], clean.AsSpan(0, d));
        ctx.ReportCommitted(1, 1, drafts.Committed, drafts.Current);

        int n = 1;       // committed slots
        int cached = 0;  // image slots whose KV rows are in the cache (inputs start there)
        while (n <= last)
        {
            long start = Stopwatch.GetTimestamp();
            int w = settings.AutoWindow && tuner is not null ? tuner.Choose(window) : window;
            int draftCount = Math.Min(w - 1, last - n);  // fed drafts: slots n .. n+draftCount−1
            int front = n - cached;                      // committed inputs: anchor and re-fed tokens
            int s = front + draftCount;

            // New slots up to the bonus position start as pure noise with no draft token, or
            // (with a prior) as the prior's token, its embedding noised to the middle level
            // (per-pass schedule) or to its position's level when fed (window schedule).
            int seeded = 0;
            for (int slot = drafts.DraftedThrough + 1; slot <= n + draftCount; slot++)
            {
                if (layout.IsForced(slot)) continue;
                int r = slot % ring;
                drafts.ClearDraft(slot);
                level[r] = 0;
                hasTarget[r] = false;
                rng.FillGaussian(latent.AsSpan(r * d, d));
                if (prior is null) continue;
                drafts.SetOneHot(slot, prior.Initial(layout.CodeIndex(slot)));
                embedTokens[seeded] = drafts.Token(slot);
                embedSlots[seeded++] = slot;
            }
            drafts.DraftedThrough = Math.Max(drafts.DraftedThrough, n + draftCount);
            if (seeded > 0)
            {
                // ñ = α·n(e_prior) + σ·ε at the prior level; q stays one-hot on the prior's token.
                ctx.EmbedCodes(embedTokens.AsSpan(0, seeded), embedded.AsSpan(0, seeded * d));
                for (int e = 0; e < seeded; e++)
                {
                    int r = embedSlots[e] % ring;
                    var target = embedded.AsSpan(e * d, d);
                    target.CopyTo(clean.AsSpan(r * d, d));
                    if (_windowSchedule)
                    {
                        // The prior's token, noised to its position's level when fed.
                        hasTarget[r] = true;
                        continue;
                    }
                    Normalise(target, mean, std, x0);
                    var z = latent.AsSpan(r * d, d);
                    TensorPrimitives.Multiply(z, sigma[priorLevel], z);
                    TensorPrimitives.MultiplyAdd(x0, alpha[priorLevel], z, z);
                    level[r] = priorLevel;
                }
            }

            // Window inputs, slots cached .. n+draftCount−1.
            var row = ctx.WindowRow(0, s);
            for (int i = 0; i < s; i++)
            {
                int slot = cached + i, r = slot % ring;
                var dst = row.Slice(i * d, d);
                fedSigma[r] = 0;
                noise[i] = 0;
                if (layout.IsForced(slot)) { ctx.ForcedEmbedding.CopyTo(dst); continue; }
                if (ramp is not null && slot >= n && level[r] >= 0 && hasTarget[r])
                {
                    // Window schedule: the draft's embedding at its position's level. (A slot with
                    // no draft token yet is fed below as pure noise at level 0, σ_max.)
                    float to = ramp.Sigma(slot - n + 1, draftCount);
                    if (to <= 0f) level[r] = -1;
                    else
                    {
                        NoisedEmbedding(clean.AsSpan(r * d, d), latent.AsSpan(r * d, d), to, mean, std, dst);
                        noise[i] = fedSigma[r] = to;
                        continue;
                    }
                }
                if (slot < n || level[r] < 0) clean.AsSpan(r * d, d).CopyTo(dst);
                else
                {
                    // Fed as ñ·std + mean at its noise level.
                    TensorPrimitives.MultiplyAdd(latent.AsSpan(r * d, d), std, mean, dst);
                    noise[i] = fedSigma[r] = sigma[level[r]];
                }
            }
            ctx.RunWindow(s, noise.AsSpan(0, s));

            // Verification; output index of slot m is m − cached − 1.
            // A slot's distribution saw every input before it; once one of those was noisier than
            // the accept-noise limit, nothing further is committed this pass (limit 0: lossless).
            int newSlot = -1;
            bool stopped = false;
            float seen = 0;
            for (int slot = n; slot < n + draftCount; slot++)
            {
                if (slot > n) seen = Math.Max(seen, fedSigma[(slot - 1) % ring]);
                if (seen > acceptNoise)
                {
                    newSlot = slot - 1;
                    stopped = true;
                    break;
                }
                if (layout.IsForced(slot)) continue;
                ctx.Distribution(slot - cached - 1, p);
                if (!drafts.HasDraft(slot))
                {
                    // Never sampled (fresh noise): nothing to verify, the token comes from P.
                    drafts.Commit(slot, Categorical.Sample(p, rng));
                    newSlot = slot;
                    stopped = true;
                    break;
                }
                int t = drafts.Token(slot);
                if (verifier.Accept(p, t, drafts.Q(slot), rng))
                {
                    drafts.Commit(slot, t);
                    continue;
                }
                drafts.Commit(slot, verifier.Resample(p, t, drafts.Q(slot), rng));
                newSlot = slot;
                stopped = true;
                break;
            }
            int embedCount = 0;
            if (!stopped && draftCount > 0 && Math.Max(seen, fedSigma[(n + draftCount - 1) % ring]) > acceptNoise)
            {
                newSlot = n + draftCount - 1; // every draft accepted, but the bonus token's distribution saw noise
                stopped = true;
            }
            if (!stopped)
            {
                newSlot = n + draftCount;
                if (!layout.IsForced(newSlot))
                {
                    ctx.Distribution(newSlot - cached - 1, p);
                    drafts.Commit(newSlot, Categorical.Sample(p, rng));
                }
            }
            if (!layout.IsForced(newSlot)) { embedTokens[embedCount] = drafts.Token(newSlot); embedSlots[embedCount++] = newSlot; }
            // An accepted draft's clean embedding is already known (computed when it was sampled).
            for (int slot = n; slot < newSlot; slot++) level[slot % ring] = -1;
            level[newSlot % ring] = -1;

            // KV: keep committed inputs up to the first one fed noisier than the KV limit.
            int keepUntil = newSlot;
            for (int slot = n; slot < newSlot; slot++)
                if (fedSigma[slot % ring] > _kvKeepNoise) { keepUntil = slot; break; }
            int passStart = cached; // output indices stay relative to this pass's first input
            ctx.Commit(keepUntil - cached);
            cached = keepUntil;

            // Every predicted slot after the new token: a new sample x̂ ~ P is its next draft, or
            // after a stall cascade the prior re-seeded from the new token (not for pure noise).
            int lastPredicted = n + draftCount;
            bool reseed = prior is not null && reseeder.AfterPass(newSlot - n + 1, draftCount + 1);
            for (int slot = newSlot + 1; slot <= lastPredicted; slot++)
            {
                if (layout.IsForced(slot)) continue;
                if (reseed) drafts.SetOneHot(slot, reseeder.Token(drafts, newSlot, slot));
                else
                {
                    ctx.Distribution(slot - passStart - 1, p);
                    if (coupled && drafts.HasDraft(slot))
                    {
                        // SJD++'s coupled rule: the drafts predicted from this one stay consistent.
                        drafts.SetSampled(slot, verifier.Couple(p, drafts.Token(slot), drafts.Q(slot), rng), p);
                    }
                    else
                    {
                        drafts.SetSampled(slot, Categorical.Sample(p, rng), p);
                    }
                }
                embedTokens[embedCount] = drafts.Token(slot);
                embedSlots[embedCount++] = slot;
            }
            ctx.EmbedCodes(embedTokens.AsSpan(0, embedCount), embedded.AsSpan(0, embedCount * d));
            for (int e = 0; e < embedCount; e++)
            {
                int slot = embedSlots[e], r = slot % ring;
                var target = embedded.AsSpan(e * d, d);
                target.CopyTo(clean.AsSpan(r * d, d));
                if (level[r] < 0) continue;
                // Window schedule: the step waits until the slot's next position is known.
                if (ramp is not null) { hasTarget[r] = true; continue; }
                // DDIM (η = 0) from level k to k+1 toward n̂0 = normalised embedding of x̂.
                int lv = level[r];
                Normalise(target, mean, std, x0);
                if (lv + 1 >= sigma.Length) { level[r] = -1; continue; } // past σ_min: fed clean
                DdimStep(latent.AsSpan(r * d, d), x0, sigma[lv], sigma[lv + 1]);
                level[r] = lv + 1;
            }

            ctx.ReportCommitted(newSlot - n + 1, newSlot + 1, drafts.Committed, drafts.Current);
            tuner?.Record(draftCount + 1, Stopwatch.GetElapsedTime(start).TotalSeconds, newSlot - n + 1);
            n = newSlot + 1;
        }
        return drafts.Committed;
    }

    // The normalised embedding n = (e − mean)/std noised to σ with ε and fed back in embedding space:
    // (α·n + σ·ε)·std + mean = α·e + (1 − α)·mean + σ·std·ε, in one pass over the vectors (a slot of
    // the window each pass; four TensorPrimitives calls cost about four times as much here).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void NoisedEmbedding(ReadOnlySpan<float> embedding, ReadOnlySpan<float> epsilon, float sigma,
        ReadOnlySpan<float> mean, ReadOnlySpan<float> std, Span<float> result)
    {
        float alpha = Alpha(sigma), rest = 1f - alpha;
        int i = 0, width = Vector<float>.Count;
        var a = new Vector<float>(alpha);
        var b = new Vector<float>(rest);
        var c = new Vector<float>(sigma);
        for (; i <= result.Length - width; i += width)
        {
            var value = a * new Vector<float>(embedding[i..]) + b * new Vector<float>(mean[i..])
                + c * new Vector<float>(std[i..]) * new Vector<float>(epsilon[i..]);
            value.CopyTo(result[i..]);
        }
        for (; i < result.Length; i++) result[i] = alpha * embedding[i] + rest * mean[i] + sigma * std[i] * epsilon[i];
    }

    private static float Alpha(float sigma) => MathF.Sqrt(Math.Max(0f, 1f - sigma * sigma));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Normalise(ReadOnlySpan<float> embedding, ReadOnlySpan<float> mean, ReadOnlySpan<float> std, Span<float> result)
    {
        TensorPrimitives.Subtract(embedding, mean, result);
        TensorPrimitives.Divide(result, std, result);
    }

    // DDIM (η = 0) from σ_from to σ_to toward n̂0: ε̂ = (ñ − α_from·n̂0)/σ_from ; ñ' = α_to·n̂0 + σ_to·ε̂,
    // folded into ñ' = (σ_to/σ_from)·ñ + (α_to − α_from·σ_to/σ_from)·n̂0: two passes over the vectors
    // instead of three, and no ε̂ buffer (after a transformer pass these rows are cold in cache).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DdimStep(Span<float> latent, ReadOnlySpan<float> x0, float from, float to)
    {
        float ratio = to / from;
        TensorPrimitives.Multiply(latent, ratio, latent);
        TensorPrimitives.MultiplyAdd(x0, Alpha(to) - Alpha(from) * ratio, latent, latent);
    }
}
