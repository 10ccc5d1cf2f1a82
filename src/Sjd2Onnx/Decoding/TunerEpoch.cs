namespace Sjd2Onnx.Decoding;

/// <summary>One epoch of <see cref="WindowTuner"/>: the slots each counted iteration committed, and the rate.</summary>
internal sealed class TunerEpoch
{
    private readonly int[] _committed = new int[WindowTuner.EpochLength];
    private int _count;

    public double Rate { get; set; }

    public int Committed { get; private set; }

    public void Clear() => _count = Committed = 0;

    public void Add(int committed)
    {
        _committed[_count++] = committed;
        Committed += committed;
    }

    // Mean of min(committed, cap) over the iterations: how easy this stretch of the image was.
    public double Ease(int cap)
    {
        double sum = 0;
        for (int i = 0; i < _count; i++) sum += Math.Min(_committed[i], cap);
        return sum / _count;
    }
}
