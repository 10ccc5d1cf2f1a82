namespace Sjd2Onnx.Server;

/// <summary>How <see cref="Sjd2Server"/> listens, which model it serves and how much work it admits.</summary>
public sealed record ServerOptions
{
    /// <summary>The model folder (model.json and the ONNX graphs), loaded once at start.</summary>
    public required string ModelDirectory { get; init; }

    /// <summary>How the model is opened: execution provider (and fallbacks), device, ONNX Runtime log.</summary>
    public PipelineOptions Pipeline { get; init; } = new();

    /// <summary>Addresses to listen on, separated by ';' (port 0 picks a free port).</summary>
    public string Urls { get; init; } = DefaultUrls;

    /// <summary>Generations that run at once; further requests wait in the queue.</summary>
    public int MaxConcurrent { get; init; } = 1;

    /// <summary>Requests that may wait for a free slot; beyond that a request gets 429 with Retry-After.</summary>
    public int QueueLimit { get; init; } = 8;

    /// <summary>Largest request body in bytes (413 beyond it).</summary>
    public int MaxBodyBytes { get; init; } = 64 * 1024;

    /// <summary>Longest prompt in characters (the model's own token limit applies as well).</summary>
    public int MaxPromptChars { get; init; } = 1000;

    /// <summary>Largest <c>n</c> (images per request).</summary>
    public int MaxImagesPerRequest { get; init; } = 4;

    /// <summary>The default listening address: the loopback interface only.</summary>
    public const string DefaultUrls = "http://127.0.0.1:5000";

    /// <summary>Checks the limits.</summary>
    /// <exception cref="Sjd2Exception">A limit out of range.</exception>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(ModelDirectory)) throw new Sjd2Exception("no model folder given; pass --model DIR.");
        if (string.IsNullOrWhiteSpace(Urls)) throw new Sjd2Exception($"no address to listen on; pass e.g. --urls {DefaultUrls}.");
        foreach (var url in Urls.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            CheckUrl(url);
        if (MaxConcurrent < 1) throw new Sjd2Exception($"max-concurrent must be at least 1, got {MaxConcurrent}.");
        if (QueueLimit < 0) throw new Sjd2Exception($"queue must be 0 or more, got {QueueLimit}.");
        if (MaxBodyBytes < 1024) throw new Sjd2Exception($"the body limit must be at least 1024 bytes, got {MaxBodyBytes}.");
        if (MaxPromptChars < 1) throw new Sjd2Exception($"the prompt limit must be at least 1 character, got {MaxPromptChars}.");
        if (MaxImagesPerRequest < 1) throw new Sjd2Exception($"the images-per-request limit must be at least 1, got {MaxImagesPerRequest}.");
    }

    // Kestrel's address forms: http(s)://HOST[:PORT][/], HOST a name, an IPv4 or [IPv6] address, * or +.
    private static void CheckUrl(string url)
    {
        var m = System.Text.RegularExpressions.Regex.Match(url, @"^(?<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?<host>\[[0-9A-Fa-f:.%a-z]+\]|[^:/\[\]\s]+)(:(?<port>[^/]*))?/?$");
        if (!m.Success)
            throw new Sjd2Exception($"'{url}' is not an address to listen on; use http://HOST:PORT, e.g. {DefaultUrls}.");
        string scheme = m.Groups["scheme"].Value.ToLowerInvariant();
        if (scheme is not ("http" or "https"))
            throw new Sjd2Exception($"'{url}' has the scheme {scheme}; the server listens on http:// or https:// addresses, e.g. {DefaultUrls}.");
        if (m.Groups["port"].Success && !(int.TryParse(m.Groups["port"].Value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int port) && port <= 65535))
            throw new Sjd2Exception($"'{url}' has the port '{m.Groups["port"].Value}'; a port is a number from 0 (any free one) to 65535.");
    }
}
