using System.Numerics;

namespace Sjd2Onnx.Evaluation;

/// <summary>Python's float operations where they differ from .NET's, so that verdicts agree with the Python evaluator.</summary>
internal static class PythonFloat
{
    /// <summary>Python's <c>a // b</c> for floats, computed as CPython does.</summary>
    public static double FloorDiv(double a, double b)
    {
        double mod = a % b; // C# % on doubles is C's fmod, as in CPython
        double div = (a - mod) / b;
        if (mod != 0 && (b < 0) != (mod < 0)) div -= 1.0;
        if (div == 0) return Math.CopySign(0.0, a / b);
        double floor = Math.Floor(div);
        return div - floor > 0.5 ? floor + 1.0 : floor;
    }

    /// <summary>Python's <c>a % b</c> for floats: the result takes the sign of <paramref name="b"/>.</summary>
    public static double Mod(double a, double b)
    {
        double mod = a % b;
        if (mod == 0) return Math.CopySign(0.0, b);
        return (b < 0) != (mod < 0) ? mod + b : mod;
    }

    /// <summary>
    /// Python's <c>round(value, 3) &gt;= thousandths / 1000</c>, decided exactly: .NET's Math.Round
    /// scales by 1000 first, which can land on the other side of the boundary.
    /// </summary>
    public static bool Round3AtLeast(double value, int thousandths)
    {
        if (double.IsNaN(value)) return false;
        // round(v, 3) >= T/1000  <=>  v > (2T - 1)/2000, or v equal to it and T even (ties go to the even neighbour)
        long bits = BitConverter.DoubleToInt64Bits(Math.Abs(value));
        int exponent = (int)((bits >> 52) & 0x7FF);
        long mantissa = bits & 0xFFFFFFFFFFFFFL;
        if (exponent == 0) exponent = 1; else mantissa |= 1L << 52;
        exponent -= 1075; // |value| = mantissa * 2^exponent
        BigInteger left = new BigInteger(mantissa) * 2000 * (value < 0 ? -1 : 1);
        BigInteger right = new BigInteger(2L * thousandths - 1);
        if (exponent >= 0) left <<= exponent; else right <<= -exponent;
        int c = left.CompareTo(right);
        return c > 0 || (c == 0 && thousandths % 2 == 0);
    }
}
