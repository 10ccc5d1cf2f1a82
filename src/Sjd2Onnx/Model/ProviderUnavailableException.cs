namespace Sjd2Onnx.Model;

/// <summary>An execution provider that cannot be used here (package, libraries, driver or device); the next one may be tried.</summary>
internal sealed class ProviderUnavailableException(ExecutionProvider provider, string cause, Exception inner)
    : Exception($"{ProviderDiagnosis.Name(provider)} provider unavailable: {cause}", inner)
{
    /// <summary>The provider that failed.</summary>
    public ExecutionProvider Provider { get; } = provider;

    /// <summary>The cause and its fix, without the provider's name.</summary>
    public string Cause { get; } = cause;
}
