namespace Sjd2Onnx.Tests.Support;

internal static class Close
{
    /// <summary>Asserts |a−b| ≤ tol element-wise and names the first offending index.</summary>
    public static void All(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double tol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double worst = 0;
        int at = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.False(float.IsNaN(actual[i]) || float.IsInfinity(actual[i]), $"{what}: non-finite value at {i}");
            double diff = Math.Abs(expected[i] - actual[i]);
            if (diff > worst) { worst = diff; at = i; }
        }
        Assert.True(worst <= tol, $"{what}: max |diff| {worst:E3} at index {at} exceeds {tol:E1}");
    }
}
