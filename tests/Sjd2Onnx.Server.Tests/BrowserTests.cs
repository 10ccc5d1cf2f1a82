using Sjd2Onnx.Server.Tests.Support;
using Xunit.Abstractions;

namespace Sjd2Onnx.Server.Tests;

/// <summary>The page in a real browser (headless Chromium) against the server on Kestrel with the default model.</summary>
[Collection(KestrelCollection.Name)]
public class BrowserTests(ITestOutputHelper output)
{
    private const string Prompt = "a red circle above a blue square";

    [ChromiumFact]
    public async Task ThePageComparesArWithSjdPassByPassAndShowsTheResult()
    {
        await using var host = await ServerHost.KestrelAsync(ServerHost.Options(TestPaths.DefaultModel));
        await using var browser = await DevTools.LaunchAsync(DevTools.FindChromium()!, 1280, 760);
        await browser.SendAsync("Page.navigate", new() { ["url"] = host.BaseAddress.ToString() });
        await browser.WaitUntilAsync("document.readyState === 'complete' && document.getElementById('method').options.length > 0", TimeSpan.FromMinutes(1));

        // Type the prompt into the emptied box, pick the method and seed, click Generate.
        await browser.EvaluateAsync("(() => { const p = document.getElementById('prompt'); p.value = ''; p.focus(); return true; })()");
        await browser.TypeAsync(Prompt);
        await browser.EvaluateAsync("(() => { document.getElementById('method').value = 'sjd++'; document.getElementById('seed').value = '7'; document.getElementById('compare').checked = true; return true; })()");
        await browser.ClickAsync("#go");

        await browser.WaitUntilAsync("document.body.dataset.state !== 'idle' && document.body.dataset.state !== 'running'", TimeSpan.FromMinutes(5));
        string status = (await browser.EvaluateAsync("document.getElementById('status').textContent")).GetString()!;
        Assert.Equal("done", (await browser.EvaluateAsync("document.body.dataset.state")).GetString() + (status == "done." ? "" : " / " + status));

        Assert.Equal(Prompt, (await browser.EvaluateAsync("document.getElementById('prompt').value")).GetString());
        Assert.Equal(2, (await browser.EvaluateAsync("document.querySelectorAll('.run[data-done]').length")).GetInt32());
        string summary = (await browser.EvaluateAsync("document.getElementById('summary').textContent")).GetString()!;
        Assert.Contains("fewer passes", summary);
        string arStats = (await browser.EvaluateAsync("document.querySelector('.run[data-method=\"ar\"] .stats').textContent")).GetString()!;
        Assert.StartsWith("256 passes", arStats); // AR: one pass per code (the prefill gives the first)
        // Both runs offer their final PNG.
        Assert.True((await browser.EvaluateAsync("[...document.querySelectorAll('.run')].every(r => r.querySelector('a.final'))")).GetBoolean());
        Assert.Empty(browser.PageExceptions);

        byte[] png = await browser.ScreenshotAsync();
        Assert.Equal((1280, 760), Png.Size(png));
        string path = Environment.GetEnvironmentVariable("SJD2_SCREENSHOT") is { Length: > 0 } wanted
            ? wanted : Path.Combine(Path.GetTempPath(), "sjd2-serve-page.png");
        await File.WriteAllBytesAsync(path, png);
        output.WriteLine($"{summary}\nscreenshot: {path}");
    }

    [ChromiumFact]
    public async Task AfterAFailedRequestBothPanelsSayWhy()
    {
        await using var host = await ServerHost.KestrelAsync(ServerHost.Options(TestPaths.DefaultModel));
        await using var browser = await DevTools.LaunchAsync(DevTools.FindChromium()!, 1280, 760);
        await browser.SendAsync("Page.navigate", new() { ["url"] = host.BaseAddress.ToString() });
        await browser.WaitUntilAsync("document.readyState === 'complete' && document.getElementById('method').options.length > 0", TimeSpan.FromMinutes(1));

        // A word the model does not know: the server answers 400, and no panel may stay "waiting…".
        await browser.EvaluateAsync("(() => { const p = document.getElementById('prompt'); p.value = 'a pink circle'; document.getElementById('method').value = 'sjd++'; document.getElementById('compare').checked = true; return true; })()");
        await browser.ClickAsync("#go");
        await browser.WaitUntilAsync("document.body.dataset.state === 'error'", TimeSpan.FromMinutes(2));
        string first = (await browser.EvaluateAsync("document.querySelector('.run[data-method=\"sjd++\"] .stats').textContent")).GetString()!;
        string second = (await browser.EvaluateAsync("document.querySelector('.run[data-method=\"ar\"] .stats').textContent")).GetString()!;
        Assert.StartsWith("error: ", first);
        Assert.Contains("'pink'", first);
        Assert.StartsWith("not run", second);
        Assert.Equal(2, (await browser.EvaluateAsync("document.querySelectorAll('.run[data-failed]').length")).GetInt32());
        Assert.Empty(browser.PageExceptions);
    }
}
