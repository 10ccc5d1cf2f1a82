using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Sjd2Onnx.Server.Tests.Support;

namespace Sjd2Onnx.Server.Tests;

/// <summary>The HTTP API in process (ASP.NET Core's test server) on the tiny model.</summary>
public class ImageApiTests(TinyServerFixture fixture) : IClassFixture<TinyServerFixture>
{
    private HttpClient Client => fixture.Host.Client;

    [Fact]
    public async Task GenerationsAnswersInTheOpenAiShapeWithConsecutiveSeeds()
    {
        var body = await PostOk(new JsonObject
        {
            ["model"] = "any-name",
            ["prompt"] = "a red circle",
            ["n"] = 2,
            ["size"] = "16x16",
            ["response_format"] = "b64_json",
            ["seed"] = 5,
        });
        Assert.True(body.GetProperty("created").GetInt64() > 1_700_000_000);
        var data = body.GetProperty("data").EnumerateArray().ToList();
        Assert.Equal(2, data.Count);
        for (int i = 0; i < 2; i++)
        {
            Assert.Equal((16, 16), Png.Size(Convert.FromBase64String(data[i].GetProperty("b64_json").GetString()!)));
            Assert.Equal(5UL + (ulong)i, data[i].GetProperty("seed").GetUInt64());
            Assert.Equal("sjd++", data[i].GetProperty("method").GetString()); // the server's default
            Assert.True(data[i].GetProperty("passes").GetInt32() is > 1 and <= 17);
        }
        Assert.NotEqual(data[0].GetProperty("b64_json").GetString(), data[1].GetProperty("b64_json").GetString());
    }

    [Fact]
    public async Task ARequestWithoutASeedDrawsAFreshOneAndCountsOnFromIt()
    {
        ulong[] Seeds(JsonElement body) => [.. body.GetProperty("data").EnumerateArray().Select(d => d.GetProperty("seed").GetUInt64())];
        var request = new JsonObject { ["prompt"] = "a red circle", ["n"] = 2, ["size"] = "16x16" };
        ulong[] first = Seeds(await PostOk(request)), second = Seeds(await PostOk(request));
        Assert.Equal(first[0] + 1, first[1]);
        Assert.Equal(second[0] + 1, second[1]);
        Assert.NotEqual(first[0], second[0]); // drawn from 2^53 values: equal one time in 10^15
        Assert.All(first.Concat(second), s => Assert.True(s < 1UL << 53, "seeds stay within JavaScript's exact integers"));
    }

    [Theory]
    [InlineData("ar")]
    [InlineData("sjd")]
    [InlineData("sjd2")]
    public async Task TheStreamEndsWithTheImageTheGenerationsEndpointGivesForTheSameSeed(string method)
    {
        var request = new JsonObject { ["prompt"] = "a blue square", ["method"] = method, ["seed"] = 11, ["cfg"] = 2.0 };
        var finished = await PostOk(request);
        string expected = finished.GetProperty("data")[0].GetProperty("b64_json").GetString()!;

        var events = await StreamAsync(request);
        Assert.Equal("done", events[^1].Name);
        Assert.Equal(expected, events[^1].Data.GetProperty("b64_json").GetString());
        Assert.Equal(finished.GetProperty("data")[0].GetProperty("passes").GetInt32(), events[^1].Data.GetProperty("passes").GetInt32());
    }

    [Theory]
    [InlineData("tiny")]
    [InlineData("tiny-eol")] // an end-of-line token per row: slots are not codes
    public async Task TheStreamSendsEveryPassThenTheFinalPng(string model)
    {
        await using var host = model == "tiny" ? null : await ServerHost.InProcessAsync(ServerHost.Options(TestPaths.Model(model)));
        var client = host?.Client ?? Client;
        var info = await client.GetFromJsonAsync<JsonElement>("/api/info");
        int rows = info.GetProperty("rows").GetInt32(), codes = rows * info.GetProperty("cols").GetInt32();
        var size = info.GetProperty("size").GetString()!.Split('x').Select(int.Parse).ToArray();
        var events = await StreamAsync(new JsonObject { ["prompt"] = "a green triangle", ["method"] = "sjd", ["seed"] = 3 }, client);

        Assert.Equal("start", events[0].Name);
        Assert.Equal(rows, events[0].Data.GetProperty("rows").GetInt32());
        Assert.Equal(codes, events[0].Data.GetProperty("total").GetInt32());
        var passes = events.Where(e => e.Name == "pass").Select(e => e.Data).ToList();
        var done = events[^1];
        Assert.Equal("done", done.Name);
        Assert.Equal(passes.Count + 2, events.Count);
        Assert.NotEmpty(passes);
        for (int i = 1; i < passes.Count; i++)
        {
            Assert.True(passes[i].GetProperty("pass").GetInt32() > passes[i - 1].GetProperty("pass").GetInt32());
            Assert.True(passes[i].GetProperty("committed").GetInt32() >= passes[i - 1].GetProperty("committed").GetInt32());
        }
        Assert.Equal(codes, passes[^1].GetProperty("committed").GetInt32());
        Assert.Equal(done.Data.GetProperty("passes").GetInt32(), passes[^1].GetProperty("pass").GetInt32());
        // The newest pass always carries a preview; the final image is the model's size.
        Assert.Equal((size[0], size[1]), Png.Size(Convert.FromBase64String(passes[^1].GetProperty("preview").GetString()!)));
        Assert.Equal((size[0], size[1]), Png.Size(Convert.FromBase64String(done.Data.GetProperty("b64_json").GetString()!)));
        Assert.Equal(codes, done.Data.GetProperty("committed_per_pass").EnumerateArray().Sum(e => e.GetInt32()));
    }

    [Fact]
    public async Task TheSjd2OptionsReachTheEngine()
    {
        var body = await PostOk(new JsonObject
        {
            ["prompt"] = "a red circle",
            ["method"] = "sjd2",
            ["seed"] = 2,
            ["kv"] = 0.1,
            ["schedule"] = "per-pass",
            ["init"] = "noise",
            ["denoise_steps"] = 4,
        });
        // The engine refuses a KV noise limit outside the limit mode: a 200 shows the reader set both.
        Assert.Equal("sjd2", body.GetProperty("data")[0].GetProperty("method").GetString());
    }

    [Fact]
    public async Task PacAndItsTreeAndReseedOptionsAreServed()
    {
        var body = await PostOk(new JsonObject
        {
            ["prompt"] = "a red circle",
            ["method"] = "pac",
            ["seed"] = 3,
            ["tree"] = "2x1",
            ["reseed"] = 2,
        });
        Assert.Equal("pac", body.GetProperty("data")[0].GetProperty("method").GetString());
        var info = await Client.GetFromJsonAsync<JsonElement>("/api/info");
        Assert.Contains("pac", info.GetProperty("methods").EnumerateArray().Select(m => m.GetString()));
        var fields = info.GetProperty("fields").EnumerateArray().Select(m => m.GetString()).ToList();
        Assert.Contains("tree", fields);
        Assert.Contains("reseed", fields);
        Assert.True(info.GetProperty("tree_attention").GetBoolean()); // the tiny test model has window_mask
    }

    [Fact]
    public async Task WithoutPreviewsTheStreamSendsTheCodes()
    {
        var events = await StreamAsync(new JsonObject { ["prompt"] = "a star", ["method"] = "ar", ["seed"] = 1, ["previews"] = false });
        var passes = events.Where(e => e.Name == "pass").ToList();
        Assert.Equal(16, passes.Count); // AR: one code per pass
        Assert.All(passes, p => Assert.False(p.Data.TryGetProperty("preview", out _)));
        Assert.All(passes, p => Assert.Equal(16, p.Data.GetProperty("codes").GetArrayLength()));
    }

    [Theory]
    [InlineData("""{"prompt": "x", "size": "512x512"}""", "size")]
    [InlineData("""{"prompt": "x", "response_format": "url"}""", "response_format")]
    [InlineData("""{"prompt": "x", "n": 5}""", "n")]
    [InlineData("""{"prompt": "x", "n": 0}""", "n")]
    [InlineData("""{"prompt": "x", "n": 1.5}""", "n")]
    [InlineData("""{"n": 1}""", "prompt")]
    [InlineData("""{"prompt": "   "}""", "prompt")]
    [InlineData("""{"prompt": "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty twentyone twentytwo twentythree twentyfour twentyfive"}""", "prompt")]
    [InlineData("""{"prompt": 7}""", "prompt")]
    [InlineData("""{"prompt": "x", "method": "fast"}""", "method")]
    [InlineData("""{"prompt": "x", "method": "ar", "window": 8}""", "window")]
    [InlineData("""{"prompt": "x", "method": "sjd", "window": 1}""", "window")]
    [InlineData("""{"prompt": "x", "method": "sjd", "kv": "exact"}""", "kv")]
    [InlineData("""{"prompt": "x", "method": "sjd++", "reuse": "sometimes"}""", "reuse")]
    [InlineData("""{"prompt": "x", "method": "sjd2", "reuse": "threshold"}""", "reuse")]
    [InlineData("""{"prompt": "x", "method": "pac", "reuse": "none"}""", "reuse")]
    [InlineData("""{"prompt": "x", "method": "sjd2", "accept_noise": 2}""", "accept_noise")]
    [InlineData("""{"prompt": "x", "method": "sjd2", "kv": 1.5}""", "kv")]
    [InlineData("""{"prompt": "x", "method": "sjd2", "schedule": "sometimes"}""", "schedule")]
    [InlineData("""{"prompt": "x", "method": "sjd", "schedule": "window"}""", "schedule")]
    [InlineData("""{"prompt": "x", "method": "ar", "reseed": 2}""", "reseed")]
    [InlineData("""{"prompt": "x", "method": "sjd", "reseed": -1}""", "reseed")]
    [InlineData("""{"prompt": "x", "method": "sjd", "tree": "2x1"}""", "tree")]
    [InlineData("""{"prompt": "x", "method": "pac", "tree": "wide"}""", "tree")]
    [InlineData("""{"prompt": "x", "method": "pac", "tree": "0x2"}""", "tree")]
    [InlineData("""{"prompt": "x", "colour": "red"}""", "colour")]
    [InlineData("""{"prompt": "x", "seed": -1}""", "seed")]
    [InlineData("""{"prompt": "x", "cfg": "high"}""", "cfg")]
    [InlineData("""{"prompt": "x", "temperature": 0}""", "temperature")]
    [InlineData("""{"prompt": "x", "top_p": 1.5}""", "top_p")]
    [InlineData("""{"prompt": "x", "stream": true}""", "stream")]
    [InlineData("""{"prompt": "x", "seed": 18446744073709551616}""", "seed")]
    [InlineData("""{"prompt": "a red circle", "seed": 18446744073709551615, "n": 2}""", "seed")]
    [InlineData("""{"prompt": "a red circle", "cfg": 1e30}""", "cfg")]
    [InlineData("""{"prompt": "a red circle", "top_k": -1}""", "top_k")]
    [InlineData("""{"prompt": "a red circle", "temperature": 1000}""", "temperature")]
    [InlineData("""{"prompt": "a red circle", "method": "sjd++", "reuse": "coupled", "reuse_threshold": 0.5}""", "reuse_threshold")]
    [InlineData("""{"prompt": "a pink star"}""", "prompt")]
    [InlineData("""{"prompt": "\ud800 red circle"}""", "prompt")]
    [InlineData("""{"prompt": "a red circle", "method": "\udfff"}""", "method")]
    [InlineData("""{"prompt": "a red circle", "user": "\ud83d"}""", "user")]
    [InlineData("""{"prompt": "a red circle", "\ud800": 1}""", null)]
    [InlineData("""[1, 2]""", null)]
    [InlineData("""{"prompt": "x",""", null)]
    [InlineData("", null)]
    public async Task BadRequestsGetA400NamingTheField(string json, string? param)
    {
        using var response = await Client.PostAsync("/v1/images/generations", new StringContent(json, Encoding.UTF8, "application/json"));
        var error = await AssertOpenAiError(response, HttpStatusCode.BadRequest);
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        if (param is null) Assert.Equal(JsonValueKind.Null, error.GetProperty("param").ValueKind);
        else Assert.Equal(param, error.GetProperty("param").GetString());
    }

    [Theory]
    [InlineData("prompt")]
    [InlineData("method")]
    [InlineData("size")]
    [InlineData("user")]
    public async Task BytesThatAreNotUtf8GetA400NamingTheField(string field)
    {
        // A JSON body with the bytes C3 28 (not UTF-8) inside the field's string.
        var body = new List<byte>(Encoding.UTF8.GetBytes($$"""{"prompt": "a red circle", "{{field}}": "a"""));
        body.AddRange([0xC3, 0x28]);
        body.AddRange(Encoding.UTF8.GetBytes("\"}"));
        if (field == "prompt") body = [.. Encoding.UTF8.GetBytes("""{"prompt": "a"""), 0xC3, 0x28, .. Encoding.UTF8.GetBytes("\"}")];
        using var content = new ByteArrayContent([.. body]);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        using var response = await Client.PostAsync("/v1/images/generations", content);
        var error = await AssertOpenAiError(response, HttpStatusCode.BadRequest);
        Assert.Contains("UTF-8", error.GetProperty("message").GetString());
        Assert.Equal(field, error.GetProperty("param").GetString());
    }

    [Fact]
    public async Task ValueRulesAreTheEnginesAndNameFieldsNotFlags()
    {
        // top_k 0 turns top-k off, as on the command line.
        using var off = await Client.PostAsJsonAsync("/v1/images/generations", new { prompt = "a red circle", top_k = 0, seed = 3 });
        Assert.Equal(HttpStatusCode.OK, off.StatusCode);
        foreach (var body in new object[] { new { prompt = "a red circle", cfg = 1e30 }, new { prompt = "a red circle", temperature = 0 }, new { prompt = "a red circle", method = "sjd", window = 1 } })
        {
            using var response = await Client.PostAsJsonAsync("/v1/images/generations", body);
            string message = (await AssertOpenAiError(response, HttpStatusCode.BadRequest)).GetProperty("message").GetString()!;
            Assert.DoesNotContain("--", message);
        }
    }

    [Fact]
    public async Task TooLongPromptsAndBodiesAreRefused()
    {
        using var longPrompt = await Client.PostAsJsonAsync("/v1/images/generations", new { prompt = new string('a', 1001) });
        Assert.Contains("1000", (await AssertOpenAiError(longPrompt, HttpStatusCode.BadRequest)).GetProperty("message").GetString());

        using var hugeBody = await Client.PostAsync("/v1/images/generations",
            new StringContent($$"""{"prompt": "{{new string('a', 70_000)}}"}""", Encoding.UTF8, "application/json"));
        await AssertOpenAiError(hugeBody, HttpStatusCode.RequestEntityTooLarge);

        using var form = await Client.PostAsync("/v1/images/generations", new StringContent("prompt=x", Encoding.UTF8, "application/x-www-form-urlencoded"));
        await AssertOpenAiError(form, HttpStatusCode.UnsupportedMediaType);

        using var streamMany = await Client.PostAsJsonAsync("/v1/images/generations/stream", new { prompt = "x", n = 2 });
        Assert.Equal("n", (await AssertOpenAiError(streamMany, HttpStatusCode.BadRequest)).GetProperty("param").GetString());
    }

    [Fact]
    public async Task UnknownApiPathsAnswerInTheErrorShape()
    {
        using var response = await Client.GetAsync("/v1/images/variations");
        await AssertOpenAiError(response, HttpStatusCode.NotFound);
    }

    [Theory]
    [InlineData("GET", "/v1/images/generations", "POST")]
    [InlineData("GET", "/v1/images/generations/stream", "POST")]
    [InlineData("PUT", "/v1/images/generations", "POST")]
    [InlineData("DELETE", "/v1/models", "GET")]
    public async Task AKnownPathAskedWithAnotherMethodIsA405(string method, string path, string allow)
    {
        using var response = await Client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));
        await AssertOpenAiError(response, HttpStatusCode.MethodNotAllowed);
        Assert.Equal(allow, string.Join(",", response.Content.Headers.Allow.Concat(response.Headers.TryGetValues("Allow", out var a) ? a : [])));
    }

    [Fact]
    public async Task OneModelIsServedByItsId()
    {
        var model = await Client.GetFromJsonAsync<JsonElement>("/v1/models/tiny");
        Assert.Equal("tiny", model.GetProperty("id").GetString());
        Assert.Equal("model", model.GetProperty("object").GetString());
        using var other = await Client.GetAsync("/v1/models/gpt-image-1");
        var error = await AssertOpenAiError(other, HttpStatusCode.NotFound);
        Assert.Equal("model", error.GetProperty("param").GetString());
        Assert.Equal("model_not_found", error.GetProperty("code").GetString());
    }

    [Fact]
    public async Task ThePageIsSelfContained()
    {
        using var response = await Client.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        string csp = string.Join(";", response.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("default-src 'none'", csp);
        string html = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain("http://", html);
        Assert.DoesNotContain("https://", html);
        Assert.DoesNotContain("<link", html);
        Assert.DoesNotContain("<script src", html);
        foreach (var id in new[] { "id=\"prompt\"", "id=\"method\"", "id=\"seed\"", "id=\"compare\"", "id=\"go\"", "/v1/images/generations/stream" })
            Assert.Contains(id, html);
    }

    [Fact]
    public async Task HealthInfoAndModelsDescribeTheServer()
    {
        var health = await Client.GetFromJsonAsync<JsonElement>("/health");
        Assert.Equal("ok", health.GetProperty("status").GetString());
        Assert.Equal("tiny", health.GetProperty("model").GetString());

        var info = await Client.GetFromJsonAsync<JsonElement>("/api/info");
        Assert.Equal("16x16", info.GetProperty("size").GetString());
        Assert.Contains("sjd2", info.GetProperty("methods").EnumerateArray().Select(m => m.GetString()));

        var models = await Client.GetFromJsonAsync<JsonElement>("/v1/models");
        Assert.Equal("tiny", models.GetProperty("data")[0].GetProperty("id").GetString());
    }

    [Fact]
    public async Task RequestsAndGenerationsAreLogged()
    {
        await PostOk(new JsonObject { ["prompt"] = "a circle on the left", ["seed"] = 424242 });
        using var bad = await Client.PostAsJsonAsync("/v1/images/generations", new { prompt = "x", size = "1x1" });
        var lines = fixture.Host.Logs.Lines;
        Assert.Contains(lines, l => l.StartsWith("POST /v1/images/generations -> 200 in ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("POST /v1/images/generations -> 400 in ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("generated: sjd++, seed 424242, ", StringComparison.Ordinal));
    }

    private async Task<JsonElement> PostOk(JsonObject request)
    {
        using var response = await Client.PostAsync("/v1/images/generations", new StringContent(request.ToJsonString(), Encoding.UTF8, "application/json"));
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private async Task<List<ServerSentEvent>> StreamAsync(JsonObject request, HttpClient? client = null)
    {
        using var message = new HttpRequestMessage(HttpMethod.Post, "/v1/images/generations/stream")
        {
            Content = new StringContent(request.ToJsonString(), Encoding.UTF8, "application/json"),
        };
        using var response = await (client ?? Client).SendAsync(message, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var events = new List<ServerSentEvent>();
        await foreach (var e in ServerSentEvent.ReadAllAsync(await response.Content.ReadAsStreamAsync()))
        {
            Assert.NotEqual("error", e.Name);
            events.Add(e);
        }
        return events;
    }

    /// <summary>Checks the status and OpenAI's error shape; returns the error object.</summary>
    internal static async Task<JsonElement> AssertOpenAiError(HttpResponseMessage response, HttpStatusCode status)
    {
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"{(int)response.StatusCode}: {text}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var error = JsonDocument.Parse(text).RootElement.GetProperty("error").Clone();
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
        Assert.Equal(JsonValueKind.String, error.GetProperty("type").ValueKind);
        Assert.True(error.TryGetProperty("param", out _));
        Assert.True(error.TryGetProperty("code", out _));
        return error;
    }
}
