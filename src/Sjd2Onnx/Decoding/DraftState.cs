namespace Sjd2Onnx.Decoding;

/// <summary>
/// The image as the speculative decoders see it: committed codes, the current draft of every
/// slot ahead, and for each draft the distribution q it was drawn from (needed by the verifier).
/// Drafts live in a ring indexed by slot, because only a window's worth of slots ahead of the
/// committed front ever holds one; all buffers are allocated once per image.
/// </summary>
internal sealed class DraftState
{
    private readonly ImageLayout _layout;
    private readonly int _codebook, _ring;
    private readonly float[] _q;       // [ring, K]
    private readonly bool[] _oneHot;   // [ring]
    private readonly bool[] _has;      // [ring]: the slot holds a draft token

    public DraftState(ImageLayout layout, int codebook, int ring)
    {
        _layout = layout;
        _codebook = codebook;
        _ring = ring;
        _q = new float[ring * codebook];
        _oneHot = new bool[ring];
        _has = new bool[ring];
        Committed = new int[layout.CodeCount];
        Current = new int[layout.CodeCount];
    }

    /// <summary>Committed codes, row-major; 0 where nothing is committed yet.</summary>
    public int[] Committed { get; }

    /// <summary>Committed codes plus the current drafts: a full preview of the image.</summary>
    public int[] Current { get; }

    /// <summary>Highest slot that has been given a draft (−1 before the first).</summary>
    public int DraftedThrough { get; set; } = -1;

    /// <summary>The code a slot holds now (committed or drafted); forced slots hold none and give 0.</summary>
    public int Token(int slot) => _layout.IsForced(slot) ? 0 : Current[_layout.CodeIndex(slot)];

    /// <summary>Whether a slot ahead of the front holds a draft token.</summary>
    public bool HasDraft(int slot) => _has[slot % _ring];

    /// <summary>Whether a slot's draft distribution is one-hot on its token.</summary>
    public bool IsOneHot(int slot) => _oneHot[slot % _ring];

    /// <summary>The draft distribution of a slot: empty when one-hot (the verifier's convention).</summary>
    public ReadOnlySpan<float> Q(int slot) => _oneHot[slot % _ring] ? default : QBuffer(slot);

    /// <summary>The full q row of a slot, for writing.</summary>
    public Span<float> QBuffer(int slot) => _q.AsSpan(slot % _ring * _codebook, _codebook);

    /// <summary>A deterministic draft (initialisation): q is one-hot on <paramref name="token"/>.</summary>
    public void SetOneHot(int slot, int token)
    {
        Current[_layout.CodeIndex(slot)] = token;
        _oneHot[slot % _ring] = true;
        _has[slot % _ring] = true;
    }

    /// <summary>A draft sampled from <paramref name="q"/>, which is copied.</summary>
    public void SetSampled(int slot, int token, ReadOnlySpan<float> q)
    {
        q.CopyTo(QBuffer(slot));
        SetSampledInPlace(slot, token);
    }

    /// <summary>A draft sampled from the distribution already written into <see cref="QBuffer"/>.</summary>
    public void SetSampledInPlace(int slot, int token)
    {
        Current[_layout.CodeIndex(slot)] = token;
        _oneHot[slot % _ring] = false;
        _has[slot % _ring] = true;
    }

    /// <summary>Sets the oneHot flag after <see cref="Sampling.SpeculativeVerifier.Reuse"/> rewrote q.</summary>
    public void SetToken(int slot, int token, bool oneHot)
    {
        Current[_layout.CodeIndex(slot)] = token;
        _oneHot[slot % _ring] = oneHot;
        _has[slot % _ring] = true;
    }

    /// <summary>Clears a slot's draft (SJD2: a fresh noise slot has no token yet).</summary>
    public void ClearDraft(int slot) => _has[slot % _ring] = false;

    /// <summary>Commits a code slot (forced slots are committed by the caller doing nothing).</summary>
    public void Commit(int slot, int token)
    {
        int c = _layout.CodeIndex(slot);
        Committed[c] = token;
        Current[c] = token;
        _has[slot % _ring] = false;
    }
}
