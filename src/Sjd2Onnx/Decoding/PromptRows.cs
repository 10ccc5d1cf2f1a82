using Sjd2Onnx.Model;

namespace Sjd2Onnx.Decoding;

/// <summary>
/// The prompt rows of one generation, the conditional one and with CFG the unconditional one, left
/// padded to one length, and where their tokens sit in the model's positions.
/// </summary>
internal sealed class PromptRows
{
    public PromptRows(ModelManifest manifest, long[] condIds, long[]? uncondIds, int slotCount)
    {
        Batch = uncondIds is null ? 1 : 2;
        Length = Math.Max(condIds.Length, uncondIds?.Length ?? 0);
        Padding = [Length - condIds.Length, .. uncondIds is null ? Array.Empty<int>() : [Length - uncondIds.Length]];
        Ids = new long[Batch * Length];
        condIds.CopyTo(Ids, Padding[0]);
        uncondIds?.CopyTo(Ids, Length + Padding[1]);
        int? firstImage = manifest.Sequence.FirstImagePosition;
        if (firstImage is int f && Length > f)
            throw new Sjd2Exception($"the prompt with its template takes {Length} tokens, this model fits at most {f} before the image; shorten the prompt.");
        int positionsNeeded = (firstImage ?? Length) + slotCount;
        if (positionsNeeded > manifest.Transformer.MaxSequenceLength)
            throw new Sjd2Exception($"prompt and image need {positionsNeeded} positions, the model allows {manifest.Transformer.MaxSequenceLength}; shorten the prompt.");
        if (firstImage is int first)
        {
            // every row's first image slot (cache index Length) gets position `first`
            PositionShift = new int[Batch];
            for (int b = 0; b < Batch; b++) PositionShift[b] = first - (Length - Padding[b]);
        }
    }

    /// <summary>Rows: 1, or 2 with CFG.</summary>
    public int Batch { get; }

    /// <summary>Tokens per row, padding included.</summary>
    public int Length { get; }

    /// <summary>Left padding of each row.</summary>
    public int[] Padding { get; }

    /// <summary>The rows' token ids [Batch, Length] (padding ids 0).</summary>
    public long[] Ids { get; }

    /// <summary>What each row adds to its position ids (manifest <c>sequence.first_image_position</c>); null: none.</summary>
    public int[]? PositionShift { get; }
}
