using Sjd2Onnx.Model;

namespace Sjd2Onnx.Decoding;

/// <summary>
/// SJD2's window schedule: the noise level of a draft from its position in the window. The first
/// draft is fed clean; the next positions follow a Karras grid (σ_min next to the clean front,
/// σ_max at the end of a ramp of <see cref="MinimumSpan"/> positions, or of the window when it is
/// longer), one level per noisy position unless the level count is fixed. So a draft that moves
/// forward by c positions in a pass is denoised by about c levels, and a draft's level depends on
/// its distance from the front, not on how wide the window is: narrow windows feed only the ramp's
/// low-noise start.
/// </summary>
internal sealed class WindowRamp(Sjd2Spec spec, int? levels)
{
    /// <summary>
    /// Positions the ramp spans at least. Spreading σ_min..σ_max over a 16-token window fed drafts
    /// at σ up to 1 a few positions behind the front, and outputs conditioned on them cost accuracy
    /// (ShapesEval 97.0 % / 9.0 % against 99.0 % / 12.0 % with 64, at the same pass count;
    /// docs/decoding.md); 64 is also the window where the ramp's passes were fewest.
    /// </summary>
    public const int MinimumSpan = 64;

    private readonly Dictionary<int, float[]> _grids = [];

    /// <summary>σ for the draft at <paramref name="position"/> (1 = first draft) of <paramref name="drafts"/>; 0 = clean.</summary>
    public float Sigma(int position, int drafts)
    {
        int noisy = Math.Max(drafts, MinimumSpan) - 1;
        if (position <= 1 || drafts < 2) return 0f;
        int count = levels ?? noisy;
        if (!_grids.TryGetValue(count, out var grid)) _grids[count] = grid = (spec with { Steps = count }).SigmaGrid();
        // Position 2 → σ_min (last grid index), the ramp's last position → σ_max (index 0).
        int k = position - 2;
        int index = (int)Math.Round((double)(noisy - 1 - k) * (count - 1) / (noisy - 1)); // noisy ≥ MinimumSpan − 1
        return grid[index];
    }
}
