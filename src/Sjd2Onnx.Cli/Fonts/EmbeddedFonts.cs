using ScottPlot;
using SkiaSharp;

namespace Sjd2Onnx.Cli.Fonts;

/// <summary>
/// The font the bench plot draws with: DejaVu Sans cut to Latin-1, carried inside sjd2, so that a
/// plot has its text on a machine without fonts and looks the same on every machine.
/// </summary>
internal sealed class EmbeddedFonts : IFontResolver
{
    /// <summary>The family name plots ask for.</summary>
    public const string Family = "sjd2 DejaVu Sans";

    private static readonly Lazy<EmbeddedFonts> Shared = new(() => new EmbeddedFonts());
    private readonly SKTypeface _regular = Load("DejaVuSans-subset.ttf");
    private readonly SKTypeface _bold = Load("DejaVuSans-Bold-subset.ttf");

    /// <summary>Puts the embedded font first among ScottPlot's resolvers (once) and makes it the default.</summary>
    public static void Register()
    {
        if (ScottPlot.Fonts.FontResolvers.Contains(Shared.Value)) return;
        ScottPlot.Fonts.FontResolvers.Insert(0, Shared.Value);
        ScottPlot.Fonts.Default = Family;
    }

    /// <inheritdoc/>
    public SKTypeface? CreateTypeface(string fontName, FontWeight weight, FontSlant slant, FontSpacing spacing) =>
        fontName == Family ? (weight >= FontWeight.SemiBold ? _bold : _regular) : null;

    /// <inheritdoc/>
    public SKTypeface? CreateTypeface(string fontName, bool bold, bool italic) =>
        fontName == Family ? (bold ? _bold : _regular) : null;

    private static SKTypeface Load(string file)
    {
        using var stream = typeof(EmbeddedFonts).Assembly.GetManifestResourceStream($"Sjd2Onnx.Cli.Fonts.{file}")
            ?? throw new InvalidOperationException($"sjd2 was built without its font {file}.");
        return SKTypeface.FromStream(stream) ?? throw new InvalidOperationException($"the embedded font {file} cannot be read.");
    }
}
