namespace Sjd2Onnx.Server.Tests.Support;

/// <summary>A test that needs headless Chromium: skipped, with the reason, only where it is not installed.</summary>
public sealed class ChromiumFactAttribute : FactAttribute
{
    public ChromiumFactAttribute()
    {
        if (DevTools.FindChromium() is null)
            Skip = "chromium is not installed (Debian: apt-get install chromium; or set CHROMIUM to a Chrome/Chromium executable); CI installs it";
    }
}
