namespace Sjd2Onnx.Decoding;

/// <summary>Log ratios of one neighbour's probes to the best window around them (<see cref="WindowTuner"/>).</summary>
internal struct PairedSamples
{
    private int _count;
    private double _sum, _sumOfSquares;

    public int Skipped;

    // As if `count` probes had each measured it `logRatio` slower, without scatter: real
    // probes soon outweigh it.
    public static PairedSamples Slower(int count, double logRatio) =>
        new() { _count = count, _sum = -count * logRatio, _sumOfSquares = count * logRatio * logRatio };

    public void Add(double logRatio)
    {
        _count++;
        _sum += logRatio;
        _sumOfSquares += logRatio * logRatio;
    }

    public readonly bool ShowsGain(int minimum, double gain) => _count >= minimum && Mean >= gain && Mean - Critical * StandardError > 0;

    public readonly bool ShowsLoss(int minimum) => _count >= minimum && Mean + Critical * StandardError < 0;

    // Student's t at 97.5 % for count − 1 degrees of freedom: with few probes the scatter
    // itself is poorly known. With 2 in its place, three lucky probes moved the default
    // model's window from 16 to 24.
    private readonly double Critical => _count - 1 < StudentT.Length ? StudentT[_count - 1] : 1.96 + 2.5 / (_count - 1);

    private static readonly double[] StudentT = [double.PositiveInfinity, 12.71, 4.30, 3.18, 2.78, 2.57, 2.45, 2.36, 2.31, 2.26, 2.23];

    private readonly double Mean => _sum / _count;

    private readonly double StandardError
    {
        get
        {
            double variance = Math.Max(0, (_sumOfSquares - _count * Mean * Mean) / (_count - 1));
            return Math.Sqrt(variance / _count);
        }
    }
}
