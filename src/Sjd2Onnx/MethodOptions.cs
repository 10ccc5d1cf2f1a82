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

    /// <summary>Every method's default options, in the order the command line lists them: the one table of methods.</summary>
    internal static IReadOnlyList<MethodOptions> Defaults { get; } =
        [new ArOptions(), new SjdOptions(), new SjdPlusPlusOptions(), new PacOptions(), new Sjd2Options()];

    /// <summary>The default options of <paramref name="method"/>.</summary>
    public static MethodOptions For(DecodingMethod method) =>
        Defaults.FirstOrDefault(o => o.Method == method)
        ?? throw new ArgumentOutOfRangeException(nameof(method), method, "unknown decoding method");

    /// <summary>The method's name on the command line, in the server's requests and in PNG metadata.</summary>
    internal abstract string Name { get; }

    /// <summary>Other spellings <see cref="DecodingMethodNames.TryParse"/> accepts.</summary>
    internal virtual IReadOnlyList<string> Aliases => [];

    /// <summary>A decoder for one image with these options on <paramref name="manifest"/>'s model.</summary>
    internal abstract IImageTokenDecoder CreateDecoder(ModelManifest manifest, WindowTuner? tuner);

    /// <summary>The setting keys this method takes (see <see cref="SettingsBinder"/>).</summary>
    internal abstract IReadOnlyList<string> Keys { get; }

    /// <summary>These options with the setting <paramref name="key"/> (one of <see cref="Keys"/>) read from <paramref name="value"/>.</summary>
    internal abstract MethodOptions With(string key, string value);

    /// <summary>Throws <see cref="Sjd2Exception"/> (keyed by <see cref="SettingError"/>) naming the first impossible value.</summary>
    internal abstract void Validate();
}
