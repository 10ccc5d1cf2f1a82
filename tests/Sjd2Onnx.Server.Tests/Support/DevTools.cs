using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Sjd2Onnx.Server.Tests.Support;

/// <summary>
/// Headless Chromium driven through the DevTools protocol over a plain WebSocket: one browser
/// process, one page (a flattened target session), commands matched to answers by id.
/// </summary>
internal sealed partial class DevTools : IAsyncDisposable
{
    private readonly Process _browser;
    private readonly ClientWebSocket _socket = new();
    private readonly ConcurrentDictionary<int, TaskCompletionSource<JsonElement>> _pending = new();
    private readonly ConcurrentQueue<string> _exceptions = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly string _profile;
    private Task _receiving = Task.CompletedTask;
    private int _nextId;
    private string? _session;

    private DevTools(Process browser, string profile)
    {
        _browser = browser;
        _profile = profile;
    }

    /// <summary>Uncaught exceptions the page threw.</summary>
    public IReadOnlyCollection<string> PageExceptions => _exceptions;

    /// <summary>The Chromium executable: $CHROMIUM, or chromium / chromium-browser / google-chrome on PATH; null when none.</summary>
    public static string? FindChromium()
    {
        if (Environment.GetEnvironmentVariable("CHROMIUM") is { Length: > 0 } configured && File.Exists(configured)) return configured;
        var dirs = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);
        foreach (var name in new[] { "chromium", "chromium-browser", "google-chrome" })
            foreach (var dir in dirs)
                if (File.Exists(Path.Combine(dir, name))) return Path.Combine(dir, name);
        return null;
    }

    /// <summary>Starts the browser and opens one page of the given size.</summary>
    public static async Task<DevTools> LaunchAsync(string chromium, int width, int height)
    {
        string profile = Path.Combine(Path.GetTempPath(), "sjd2-chromium-" + Guid.NewGuid().ToString("N")[..12]);
        var psi = new ProcessStartInfo(chromium)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
        {
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
            "--no-default-browser-check", "--disable-extensions", "--remote-debugging-port=0",
            $"--user-data-dir={profile}", $"--window-size={width},{height}", "about:blank",
        }) psi.ArgumentList.Add(arg);
        var browser = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {chromium}");
        var tools = new DevTools(browser, profile);
        try
        {
            _ = browser.StandardOutput.ReadToEndAsync();
            var endpoint = await FindEndpointAsync(browser.StandardError, TimeSpan.FromMinutes(1));
            await tools._socket.ConnectAsync(endpoint, CancellationToken.None);
            tools._receiving = Task.Run(tools.ReceiveLoop);
            var target = await tools.SendAsync("Target.createTarget", new JsonObject { ["url"] = "about:blank" });
            var attached = await tools.SendAsync("Target.attachToTarget", new JsonObject { ["targetId"] = target.GetProperty("targetId").GetString(), ["flatten"] = true });
            tools._session = attached.GetProperty("sessionId").GetString();
            await tools.SendAsync("Runtime.enable");
            await tools.SendAsync("Page.enable");
            await tools.SendAsync("Emulation.setDeviceMetricsOverride", new JsonObject
            {
                ["width"] = width,
                ["height"] = height,
                ["deviceScaleFactor"] = 1,
                ["mobile"] = false,
            });
            return tools;
        }
        catch
        {
            await tools.DisposeAsync();
            throw;
        }
    }

    // Chromium prints "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/ID" on stderr.
    private static async Task<Uri> FindEndpointAsync(StreamReader stderr, TimeSpan limit)
    {
        using var timeout = new CancellationTokenSource(limit);
        var seen = new StringBuilder();
        while (await stderr.ReadLineAsync(timeout.Token) is { } line)
        {
            seen.AppendLine(line);
            if (Listening().Match(line) is { Success: true } m)
            {
                _ = stderr.ReadToEndAsync(); // keep draining, or the browser blocks on a full pipe
                return new Uri(m.Groups[1].Value);
            }
        }
        throw new InvalidOperationException($"chromium exited without a DevTools endpoint:\n{seen}");
    }

    /// <summary>Sends a command to the page (or to the browser before a page is attached) and waits for its result.</summary>
    public async Task<JsonElement> SendAsync(string method, JsonObject? parameters = null)
    {
        int id = Interlocked.Increment(ref _nextId);
        var answer = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = answer;
        var message = new JsonObject { ["id"] = id, ["method"] = method, ["params"] = parameters ?? new JsonObject() };
        if (_session is not null) message["sessionId"] = _session;
        await _socket.SendAsync(Encoding.UTF8.GetBytes(message.ToJsonString()), WebSocketMessageType.Text, true, CancellationToken.None);
        return await answer.Task.WaitAsync(TimeSpan.FromMinutes(2));
    }

    /// <summary>Evaluates a JavaScript expression in the page and returns its value.</summary>
    public async Task<JsonElement> EvaluateAsync(string expression)
    {
        var result = await SendAsync("Runtime.evaluate", new JsonObject { ["expression"] = expression, ["returnByValue"] = true, ["awaitPromise"] = true });
        if (result.TryGetProperty("exceptionDetails", out var error)) throw new InvalidOperationException($"page script failed: {error}");
        return result.GetProperty("result").TryGetProperty("value", out var value) ? value : default;
    }

    /// <summary>Polls <paramref name="expression"/> until it is true.</summary>
    public async Task WaitUntilAsync(string expression, TimeSpan limit)
    {
        var deadline = DateTime.UtcNow + limit;
        while ((await EvaluateAsync(expression)).ValueKind != JsonValueKind.True)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"still not true after {limit}: {expression}");
            await Task.Delay(100);
        }
    }

    /// <summary>A real mouse click at the centre of the element <paramref name="selector"/> finds.</summary>
    public async Task ClickAsync(string selector)
    {
        var box = await EvaluateAsync($"(() => {{ const r = document.querySelector('{selector}').getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; }})()");
        double x = box[0].GetDouble(), y = box[1].GetDouble();
        foreach (var type in new[] { "mousePressed", "mouseReleased" })
            await SendAsync("Input.dispatchMouseEvent", new JsonObject { ["type"] = type, ["x"] = x, ["y"] = y, ["button"] = "left", ["clickCount"] = 1 });
    }

    /// <summary>Types text into the focused element, one key event per character.</summary>
    public async Task TypeAsync(string text)
    {
        foreach (char c in text)
            await SendAsync("Input.dispatchKeyEvent", new JsonObject { ["type"] = "char", ["text"] = c.ToString() });
    }

    /// <summary>A PNG of the page's viewport.</summary>
    public async Task<byte[]> ScreenshotAsync()
    {
        var shot = await SendAsync("Page.captureScreenshot", new JsonObject { ["format"] = "png" });
        return Convert.FromBase64String(shot.GetProperty("data").GetString()!);
    }

    private async Task ReceiveLoop()
    {
        var buffer = new byte[1 << 16];
        using var message = new MemoryStream();
        try
        {
            while (_socket.State == WebSocketState.Open)
            {
                var part = await _socket.ReceiveAsync(buffer, _stop.Token);
                if (part.MessageType == WebSocketMessageType.Close) break;
                message.Write(buffer, 0, part.Count);
                if (!part.EndOfMessage) continue;
                using var doc = JsonDocument.Parse(message.ToArray());
                message.SetLength(0);
                var root = doc.RootElement;
                if (root.TryGetProperty("id", out var id) && _pending.TryRemove(id.GetInt32(), out var answer))
                {
                    if (root.TryGetProperty("error", out var error)) answer.SetException(new InvalidOperationException($"DevTools: {error}"));
                    else answer.SetResult(root.GetProperty("result").Clone());
                }
                else if (root.TryGetProperty("method", out var method) && method.GetString() == "Runtime.exceptionThrown")
                    _exceptions.Enqueue(root.GetProperty("params").GetProperty("exceptionDetails").ToString());
            }
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException) { }
        foreach (var answer in _pending.Values) answer.TrySetException(new InvalidOperationException("the browser connection closed"));
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        try { await _receiving; }
        catch (Exception) { }
        _socket.Dispose();
        if (!_browser.HasExited) _browser.Kill(entireProcessTree: true);
        await _browser.WaitForExitAsync();
        _browser.Dispose();
        _stop.Dispose();
        try { Directory.Delete(_profile, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    [GeneratedRegex(@"DevTools listening on (ws://\S+)")]
    private static partial Regex Listening();
}
