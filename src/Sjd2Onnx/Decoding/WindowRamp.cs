using Sjd2Onnx.Model;

namespace Sjd2Onnx.Decoding;

/// <summary>
/// SJD2's window schedule: the noise level of a draft from its position in the window. The first
/// draft is fed clean; the other D − 1 positions get a Karras grid of L levels (σ_min next to the
/// clean front, σ_max at the window's end). L is one level per noisy position unless fixed, so a
/// draft that moves forward by c positions in a pass is denoised by about c levels.
/// </summary>
internal sealed class WindowRamp(Sjd2Spec spec, int? levels)
{
    private readonly Dictionary<int, float[]> _grids = [];

    /// <summary>σ for the draft at <paramref name="position"/> (1 = first draft) of <paramref name="drafts"/>; 0 = clean.</summary>
    public float Sigma(int position, int drafts)
    {
        int noisy = drafts - 1;
        if (position <= 1 || noisy < 1) return 0f;
        int count = levels ?? noisy;
        if (!_grids.TryGetValue(count, out var grid)) _grids[count] = grid = (spec with { Steps = count }).SigmaGrid();
        // Position 2 → σ_min (last grid index), position D → σ_max (index 0).
        int k = position - 2;
        int index = noisy == 1 ? count - 1 : (int)Math.Round((double)(noisy - 1 - k) * (count - 1) / (noisy - 1));
        return grid[index];
    }
}
