namespace Sjd2Onnx.Server;

/// <summary>A validated image request.</summary>
/// <param name="Prompt">The prompt, checked against the model's tokenizer.</param>
/// <param name="Count">Images to generate (seeds Seed, Seed+1, …).</param>
/// <param name="Options">Method and sampling options, seed included.</param>
/// <param name="Previews">Streaming: send a preview PNG with the passes.</param>
internal sealed record GenerationRequest(string Prompt, int Count, GenerationOptions Options, bool Previews);
