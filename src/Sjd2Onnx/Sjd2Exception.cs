namespace Sjd2Onnx;

/// <summary>
/// A problem the user can fix: a bad model folder, a bad option, a missing native package.
/// The message is one line that names the problem and the fix.
/// </summary>
public sealed class Sjd2Exception : Exception
{
    /// <summary>Creates the exception with a one-line message.</summary>
    public Sjd2Exception(string message) : base(message) { }

    /// <summary>Creates the exception with a one-line message and the underlying cause.</summary>
    public Sjd2Exception(string message, Exception inner) : base(message, inner) { }
}
