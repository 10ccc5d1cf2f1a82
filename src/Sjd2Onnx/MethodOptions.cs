using Sjd2Onnx.Decoding;
using Sjd2Onnx.Model;

namespace Sjd2Onnx;

/// <summary>
/// The options of one decoding method: <see cref="ArOptions"/>, <see cref="SjdOptions"/>,
/// <see cref="SjdPlusPlusOptions"/>, <see cref="PacOptions"/> or <see cref="Sjd2Options"/>.
/// </summary>
public abstract record MethodOptions
{
    /// <summary>The method these options run.</summary>
    public abstract DecodingMethod Method { get; }

    /// <summary>The default options of <paramref name="method"/>.</summary>
    public static MethodOptions For(DecodingMethod method) => method switch
    {
        DecodingMethod.Ar => new ArOptions(),
        DecodingMethod.Sjd => new SjdOptions(),
        DecodingMethod.SjdPlusPlus => new SjdPlusPlusOptions(),
        DecodingMethod.Pac => new PacOptions(),
        DecodingMethod.Sjd2 => new Sjd2Options(),
        _ => throw new ArgumentOutOfRangeException(nameof(method), method, "unknown decoding method"),
    };

    /// <summary>The setting keys this method takes (see <see cref="SettingsBinder"/>).</summary>
    internal abstract IReadOnlyList<string> Keys { get; }

    /// <summary>These options with the setting <paramref name="key"/> (one of <see cref="Keys"/>) read from <paramref name="value"/>.</summary>
    internal abstract MethodOptions With(string key, string value);

    /// <summary>Throws <see cref="Sjd2Exception"/> (keyed by <see cref="SettingError"/>) naming the first impossible value.</summary>
    internal abstract void Validate();
}
