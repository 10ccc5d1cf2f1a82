namespace Sjd2Onnx.Cli;

/// <summary>A one-line progress bar of one image on the <see cref="StatusLine"/> (nothing when disabled).</summary>
internal sealed class ProgressBar(string label, bool enabled) : IProgress<Decoding.DecodeProgress>
{
    private int _lastWidth = -1;

    public void Report(Decoding.DecodeProgress p)
    {
        if (!enabled) return;
        const int width = 30;
        int filled = p.TotalSlots == 0 ? width : p.CommittedSlots * width / p.TotalSlots;
        if (filled == _lastWidth && p.CommittedSlots != p.TotalSlots) return;
        _lastWidth = filled;
        StatusLine.Show($"{label} [{new string('#', filled)}{new string('.', width - filled)}] {p.CommittedSlots}/{p.TotalSlots} tokens, {p.Pass} passes");
        if (p.CommittedSlots >= p.TotalSlots) StatusLine.End();
    }
}
