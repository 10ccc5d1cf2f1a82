using System.Globalization;

namespace Sjd2Onnx.Cli;

/// <summary>Parsed arguments: positionals plus <c>--name value</c> options and <c>--flag</c> switches.</summary>
internal sealed class CommandLine
{
    private readonly Dictionary<string, string?> _options = new(StringComparer.Ordinal);
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    public CommandLine(IEnumerable<string> args, IReadOnlySet<string> flags)
    {
        var list = args.ToList();
        for (int i = 0; i < list.Count; i++)
        {
            string a = list[i];
            if (a.StartsWith("--", StringComparison.Ordinal) && a.Length > 2)
            {
                string name = a[2..];
                string? value = null;
                int eq = name.IndexOf('=');
                if (eq >= 0) { value = name[(eq + 1)..]; name = name[..eq]; }
                else if (!flags.Contains(name))
                {
                    if (i + 1 >= list.Count) throw new UsageException($"--{name} needs a value.");
                    value = list[++i];
                }
                if (!_options.TryAdd(name, value)) throw new UsageException($"--{name} is given twice.");
            }
            else Positionals.Add(a);
        }
    }

    public List<string> Positionals { get; } = [];

    public bool Has(string name) { _used.Add(name); return _options.ContainsKey(name); }

    public string? String(string name)
    {
        _used.Add(name);
        return _options.TryGetValue(name, out var v) ? v : null;
    }

    public int? Int(string name, int min, int max)
    {
        string? s = String(name);
        if (s is null) return null;
        if (!int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v))
            throw new UsageException($"--{name} must be an integer, got '{s}'.");
        if (v < min || v > max)
            throw new UsageException($"--{name} must be between {min} and {max}, got {v}.");
        return v;
    }

    public ulong? ULong(string name)
    {
        string? s = String(name);
        if (s is null) return null;
        if (!ulong.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out ulong v))
            throw new UsageException($"--{name} must be a non-negative integer, got '{s}'.");
        return v;
    }

    public float? Float(string name)
    {
        string? s = String(name);
        if (s is null) return null;
        if (!float.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out float v))
            throw new UsageException($"--{name} must be a number, got '{s}'.");
        return v;
    }

    /// <summary>Rejects options the command did not read (typos, options of another command).</summary>
    public void RejectUnknown(string command)
    {
        var unknown = _options.Keys.FirstOrDefault(k => !_used.Contains(k));
        if (unknown is not null)
            throw new UsageException($"'{command}' has no option --{unknown}; see 'sjd2 help'.");
    }
}
