using System.Runtime.CompilerServices;

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
internal sealed class Sjd2Decoder(SpeculativeSettings settings, WindowTuner? tuner) : SpeculativeDecoder(settings, tuner)
{
    private Sjd2Inputs _inputs = null!;
    private DraftInitializer? _prior;
    private float[] _noise = [], _embedded = [];
    private int[] _embedTokens = [], _embedSlots = [];
    private int _embedCount; // tokens whose embeddings the pass's end computes
    private int _cached;     // image slots whose KV rows are in the cache (inputs start there)
    private int _passStart;  // the pass's first input slot: output indices are relative to it
    private int _drafts;     // fed drafts: slots n .. n+_drafts−1

    // Re-feeding puts up to a window of committed tokens in front of the drafts.
    public override int MaxWindow => Settings.KvMode == Sjd2KvMode.Approximate ? Settings.Window : 2 * Settings.Window;

    // Tokens fed above this noise level have their KV rows dropped and are re-fed clean.
    private float KvKeepNoise => Settings.KvMode switch
    {
        Sjd2KvMode.Exact => 0f,
        Sjd2KvMode.Limit => Settings.KvNoiseLimit,
        _ => float.PositiveInfinity,
    };

    // Slots from the first uncached one to the window's end.
    protected override int DraftRing(DecodingContext ctx) => 2 * Math.Min(Settings.Window, ctx.MaxWindow) + 2;

    // Pure noise has nothing to re-seed from.
    protected override bool CanReseed => _prior is not null;

    protected override void Start()
    {
        var spec = Settings.Noise ?? throw new InvalidOperationException("SJD2 needs the model's sjd2 section");
        int window = Math.Min(Settings.Window, Ctx.MaxWindow), d = Ctx.Hidden;
        _inputs = new Sjd2Inputs(spec, Settings.Schedule == Sjd2Schedule.Window, Settings.WindowLevels, DraftRing(Ctx), d);
        _prior = Settings.Init is { } rule ? new DraftInitializer(rule, Layout, Drafts, Ctx.Codebook, Random) : null;
        _noise = new float[Ctx.MaxWindow];
        _embedTokens = new int[window + 1];
        _embedSlots = new int[window + 1];
        _embedded = new float[(window + 1) * d];
        _cached = 0;
        _inputs.SetClean(0);
        Ctx.EmbedCodes([Drafts.Committed[0]], _inputs.Clean(0));
    }

    // New slots up to the bonus position start as pure noise with no draft token, or (with a
    // prior) as the prior's token, noised (see Sjd2Inputs.SeedPrior).
    protected override int Propose(int n, int window)
    {
        _drafts = Math.Min(window - 1, Layout.LastCodeSlot - n);
        _embedCount = 0;
        for (int slot = Drafts.DraftedThrough + 1; slot <= n + _drafts; slot++)
        {
            if (Layout.IsForced(slot)) continue;
            Drafts.ClearDraft(slot);
            _inputs.StartNoise(slot, Random);
            if (_prior is null) continue;
            Drafts.SetOneHot(slot, _prior.Initial(Layout.CodeIndex(slot)));
            AddEmbedding(slot);
        }
        Drafts.DraftedThrough = Math.Max(Drafts.DraftedThrough, n + _drafts);
        EmbedPending(seed: true);
        return _drafts + 1;
    }

    // Window inputs: slots _cached .. n+_drafts−1 (the anchor and re-fed committed tokens first).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected override void Feed(int n)
    {
        int s = n - _cached + _drafts, d = Ctx.Hidden;
        var row = Ctx.WindowRow(0, s);
        for (int i = 0; i < s; i++)
        {
            int slot = _cached + i;
            var input = row.Slice(i * d, d);
            _noise[i] = Layout.IsForced(slot) ? _inputs.WriteForced(slot, Ctx.ForcedEmbedding, input) : _inputs.Write(slot, n, _drafts, input);
        }
        Ctx.RunWindow(s, _noise.AsSpan(0, s));
    }

    // A slot's distribution saw every input before it; once one of those was noisier than the
    // accept-noise limit, nothing further is committed this pass (limit 0: lossless).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected override int Verify(int n)
    {
        float seen = 0, limit = Settings.AcceptNoise;
        for (int slot = n; slot < n + _drafts; slot++)
        {
            if (slot > n) seen = Math.Max(seen, _inputs.FedSigma(slot - 1));
            if (seen > limit) return slot - 1;
            if (Layout.IsForced(slot)) continue;
            Ctx.Distribution(slot - _cached - 1, P);
            if (!Drafts.HasDraft(slot))
            {
                // Never sampled (fresh noise): nothing to verify, the token comes from P.
                CommitSampled(slot);
                return slot;
            }
            if (!AcceptOrResample(slot)) return slot;
        }
        // Every draft accepted, but the bonus token's distribution may have seen noise.
        if (_drafts > 0 && Math.Max(seen, _inputs.FedSigma(n + _drafts - 1)) > limit) return n + _drafts - 1;
        int bonus = n + _drafts;
        if (!Layout.IsForced(bonus))
        {
            Ctx.Distribution(bonus - _cached - 1, P);
            CommitSampled(bonus);
        }
        return bonus;
    }

    // KV: keep committed inputs up to the first one fed noisier than the KV limit.
    protected override void Keep(int n, int newSlot)
    {
        if (!Layout.IsForced(newSlot)) AddEmbedding(newSlot);
        // An accepted draft's clean embedding is already known (computed when it was sampled).
        for (int slot = n; slot <= newSlot; slot++) _inputs.SetClean(slot);
        int keepUntil = newSlot;
        float keepNoise = KvKeepNoise;
        for (int slot = n; slot < newSlot; slot++)
        {
            if (_inputs.FedSigma(slot) > keepNoise)
            {
                keepUntil = slot;
                break;
            }
        }
        _passStart = _cached;
        Ctx.Commit(keepUntil - _cached);
        _cached = keepUntil;
    }

    // Every predicted slot after the new token: a new sample x̂ ~ P is its next draft (see
    // RedraftSlot), and its noisy input steps toward x̂'s embedding.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected override void Redraft(int n, int newSlot, bool reseed)
    {
        for (int slot = newSlot + 1; slot <= n + _drafts; slot++)
        {
            if (Layout.IsForced(slot)) continue;
            RedraftSlot(slot, slot - _passStart - 1, newSlot, reseed);
            AddEmbedding(slot);
        }
        EmbedPending(seed: false);
    }

    private void AddEmbedding(int slot)
    {
        _embedTokens[_embedCount] = Drafts.Token(slot);
        _embedSlots[_embedCount++] = slot;
    }

    // Embeds the pending tokens in one batch: new slots take the prior's token, re-drafted ones step toward theirs.
    private void EmbedPending(bool seed)
    {
        int d = Ctx.Hidden;
        if (_embedCount == 0) return;
        Ctx.EmbedCodes(_embedTokens.AsSpan(0, _embedCount), _embedded.AsSpan(0, _embedCount * d));
        for (int e = 0; e < _embedCount; e++)
        {
            var embedding = _embedded.AsSpan(e * d, d);
            if (seed) _inputs.SeedPrior(_embedSlots[e], embedding);
            else _inputs.Advance(_embedSlots[e], embedding);
        }
        _embedCount = 0;
    }
}
