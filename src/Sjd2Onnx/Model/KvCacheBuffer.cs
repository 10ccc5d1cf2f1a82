using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;

namespace Sjd2Onnx.Model;

/// <summary>
/// A buffer of a <see cref="DeviceKvCache"/>: an allocation in the provider's memory, or a pinned
/// host array that a <see cref="HostWrittenKvCache"/> reads and writes directly. Views point into it.
/// </summary>
internal sealed class KvCacheBuffer : IDisposable
{
    private readonly OrtMemoryAllocation? _allocation;
    private readonly float[]? _floats;
    private readonly long[]? _longs;

    private KvCacheBuffer(OrtMemoryAllocation allocation)
    {
        _allocation = allocation;
        Address = allocation.DangerousGetHandle();
    }

    private KvCacheBuffer(float[]? floats, long[]? longs, IntPtr address)
    {
        _floats = floats;
        _longs = longs;
        Address = address;
    }

    /// <summary>Allocates <paramref name="bytes"/> in the memory of <paramref name="graphs"/>' provider.</summary>
    public static KvCacheBuffer Allocate(KvCacheGraphs graphs, long elements, long bytes, bool longs) =>
        new(graphs.Allocator.Allocate((uint)bytes));

    /// <summary>A pinned host array of <paramref name="elements"/> floats (or longs).</summary>
    public static KvCacheBuffer Pinned(KvCacheGraphs graphs, long elements, long bytes, bool longs)
    {
        int count = (int)Math.Max(1, elements);
        if (longs)
        {
            var l = GC.AllocateArray<long>(count, pinned: true);
            return new(null, l, Marshal.UnsafeAddrOfPinnedArrayElement(l, 0));
        }
        var f = GC.AllocateArray<float>(count, pinned: true);
        return new(f, null, Marshal.UnsafeAddrOfPinnedArrayElement(f, 0));
    }

    /// <summary>Where the buffer starts.</summary>
    public IntPtr Address { get; }

    /// <summary>The pinned floats (host buffers of floats only).</summary>
    public float[] Floats => _floats ?? throw new InvalidOperationException("not a host buffer of floats");

    /// <summary>The pinned longs (host buffers of longs only).</summary>
    public long[] Longs => _longs ?? throw new InvalidOperationException("not a host buffer of longs");

    public void Dispose() => _allocation?.Dispose();
}
