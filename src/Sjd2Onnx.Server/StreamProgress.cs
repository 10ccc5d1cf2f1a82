using System.Diagnostics;
using System.Threading.Channels;
using Sjd2Onnx.Decoding;
using Sjd2Onnx.Model;

namespace Sjd2Onnx.Server;

/// <summary>
/// Receives the decoder's progress on its own thread and queues a copy per pass for the writer of
/// the event stream, so that a slow client never holds up the transformer.
/// </summary>
internal sealed class StreamProgress(ModelManifest manifest) : IProgress<DecodeProgress>
{
    private readonly Channel<PassSnapshot> _channel = Channel.CreateUnbounded<PassSnapshot>(
        new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly long _start = Stopwatch.GetTimestamp();

    private int _lastPass;

    public ChannelReader<PassSnapshot> Reader => _channel.Reader;

    /// <summary>The newest pass the decoder reported (it may be ahead of the stream).</summary>
    public int LastPass => Volatile.Read(ref _lastPass);

    /// <summary>No more passes: the generation ended (either way).</summary>
    public void Complete() => _channel.Writer.TryComplete();

    public void Report(DecodeProgress value)
    {
        // Copy: the decoder may reuse its arrays for the next pass.
        int[] codes = (int[])(value.DraftCodes ?? value.Codes).Clone();
        Volatile.Write(ref _lastPass, value.Pass);
        _channel.Writer.TryWrite(new PassSnapshot(value.Pass, CommittedCodes(value.CommittedSlots), codes, Stopwatch.GetElapsedTime(_start)));
    }

    /// <summary>
    /// Codes among the first <paramref name="committedSlots"/> slots: with an end-of-line token each
    /// row has one slot more than it has codes.
    /// </summary>
    public int CommittedCodes(int committedSlots)
    {
        int cols = manifest.Image.GridWidth;
        int slotsPerRow = cols + (manifest.Sequence.EndOfLineId is null ? 0 : 1);
        int codes = committedSlots / slotsPerRow * cols + Math.Min(committedSlots % slotsPerRow, cols);
        return Math.Min(codes, manifest.Image.CodeCount);
    }
}
