using System.Reflection;

namespace Sjd2Onnx.Tests.Support;

/// <summary>A method's options with some values set, for tests whose method is a parameter; a value the method has no option for is refused by the engine's binder.</summary>
internal static class TestDecoding
{
    private static readonly Dictionary<string, string> Keys = new()
    {
        ["Window"] = "window",
        ["AutoWindow"] = "window",
        ["DraftInit"] = "init",
        ["ReseedAfterStalls"] = "reseed",
        ["Reuse"] = "reuse",
        ["ReuseThreshold"] = "reuse_threshold",
        ["TreeWidth"] = "tree",
        ["TreeDepth"] = "tree",
        ["DenoiseSteps"] = "denoise_steps",
        ["KvMode"] = "kv",
        ["KvNoiseLimit"] = "kv",
        ["AcceptNoise"] = "accept_noise",
        ["Schedule"] = "schedule",
    };

    public static MethodOptions For(DecodingMethod method, int? Window = null, bool? AutoWindow = null, DraftInitialization? DraftInit = null,
        int? ReseedAfterStalls = null, DraftReuse? Reuse = null, float? ReuseThreshold = null, int? TreeWidth = null, int? TreeDepth = null,
        int? DenoiseSteps = null, Sjd2KvMode? KvMode = null, float? KvNoiseLimit = null, float? AcceptNoise = null, Sjd2Schedule? Schedule = null,
        bool? AcceptEveryDraft = null, bool? StaleContinuation = null, bool? WithoutReuse = null)
    {
        var options = MethodOptions.For(method);
        var values = new (string Name, object? Value)[]
        {
            (nameof(Window), Window), (nameof(AutoWindow), AutoWindow), (nameof(DraftInit), DraftInit), (nameof(ReseedAfterStalls), ReseedAfterStalls),
            (nameof(Reuse), Reuse), (nameof(ReuseThreshold), ReuseThreshold), (nameof(TreeWidth), TreeWidth), (nameof(TreeDepth), TreeDepth),
            (nameof(DenoiseSteps), DenoiseSteps), (nameof(KvMode), KvMode), (nameof(KvNoiseLimit), KvNoiseLimit), (nameof(AcceptNoise), AcceptNoise),
            (nameof(Schedule), Schedule), (nameof(AcceptEveryDraft), AcceptEveryDraft), (nameof(StaleContinuation), StaleContinuation), (nameof(WithoutReuse), WithoutReuse),
        };
        foreach (var (name, value) in values.Where(v => v.Value is not null))
        {
            var property = options.GetType().GetProperty(name, BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic);
            if (property is null)
            {
                // The binder's own refusal of a setting this method does not have.
                SettingsBinder.Bind(new GenerationOptions { Decoding = options }, [new(Keys[name], "1")]);
                throw new InvalidOperationException($"{name} is not an option of {method}");
            }
            options = options with { };
            property.SetValue(options, value);
        }
        return options;
    }
}
