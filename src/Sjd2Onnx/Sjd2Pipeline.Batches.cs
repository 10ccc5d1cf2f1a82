using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Sjd2Onnx.Decoding;

namespace Sjd2Onnx;

// Several images in one call, and previews as an asynchronous stream.
public sealed partial class Sjd2Pipeline
{
    /// <summary>
    /// Generates <paramref name="imagesPerPrompt"/> images for each prompt, one after another, and
    /// yields each as soon as it is done. Image j (from 0) of every prompt uses seed
    /// <c>options.Seed + j</c>, so prompts are compared on the same seeds. Every prompt is checked
    /// before the first image is generated.
    /// </summary>
    /// <exception cref="Sjd2Exception">A prompt is empty or too long, the options are impossible, or the seeds run past <see cref="ulong.MaxValue"/>.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled.</exception>
    public async IAsyncEnumerable<GenerationResult> GenerateManyAsync(IEnumerable<string> prompts, GenerationOptions? options = null,
        int imagesPerPrompt = 1, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        options ??= new GenerationOptions();
        var list = prompts.ToList();
        if (imagesPerPrompt < 1) throw new Sjd2Exception($"images per prompt must be at least 1, got {imagesPerPrompt}.");
        if (options.Seed > ulong.MaxValue - (ulong)(imagesPerPrompt - 1))
            throw new Sjd2Exception($"seed {options.Seed} with {imagesPerPrompt} images per prompt runs past the largest seed {ulong.MaxValue}.");
        options.ResolveSampling(Manifest.Sampling);
        if (options.Method != DecodingMethod.Ar) options.ResolveDecoding(Manifest);
        foreach (var prompt in list) Tokenize(prompt);
        foreach (var prompt in list)
        {
            for (int j = 0; j < imagesPerPrompt; j++)
                yield return await GenerateAsync(prompt, options with { Seed = options.Seed + (ulong)j }, null, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Generates one image and yields a preview after every transformer pass, then the finished
    /// image (the update whose <see cref="GenerationUpdate.Result"/> is set). Previews are queued,
    /// never dropped, and decoding does not wait for a slow reader.
    /// </summary>
    /// <exception cref="Sjd2Exception">Empty or too long prompt, or impossible options.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled.</exception>
    public async IAsyncEnumerable<GenerationUpdate> GenerateWithPreviewsAsync(string prompt, GenerationOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var previews = Channel.CreateUnbounded<DecodeProgress>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        // Copies keep each preview the caller's own, whatever the decoder does with its buffers.
        var progress = new CallbackProgress(p => previews.Writer.TryWrite(p with { Codes = (int[])p.Codes.Clone(), DraftCodes = (int[]?)p.DraftCodes?.Clone() }));
        // A caller that stops reading early stops the generation too.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var generation = GenerateAsync(prompt, options, progress, stop.Token);
        _ = generation.ContinueWith(_ => previews.Writer.TryComplete(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        try
        {
            DecodeProgress? last = null;
            await foreach (var p in previews.Reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
            {
                last = p;
                yield return new GenerationUpdate(p, null);
            }
            var result = await generation.ConfigureAwait(false);
            int slots = last?.TotalSlots ?? result.Codes.Length;
            yield return new GenerationUpdate(new DecodeProgress(result.Statistics.Passes, slots, slots, (int[])result.Codes.Clone(), null), result);
        }
        finally
        {
            if (!generation.IsCompleted)
            {
                await stop.CancelAsync().ConfigureAwait(false);
                try { await generation.ConfigureAwait(false); }
                catch (OperationCanceledException) { } // the cancellation asked for just above
            }
        }
    }

    /// <summary>Reports on the decoding thread, unlike <see cref="Progress{T}"/>, which posts to a synchronization context.</summary>
    private sealed class CallbackProgress(Action<DecodeProgress> report) : IProgress<DecodeProgress>
    {
        public void Report(DecodeProgress value) => report(value);
    }
}
