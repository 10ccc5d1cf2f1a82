namespace Sjd2Onnx;

/// <summary>
/// Large float buffers (KV cache, logits, window embeddings) kept by a pipeline across generations,
/// so an image does not allocate them anew: arrays of that size live on the large-object heap, and
/// allocating them for every image costs about one full (gen 2) collection per image.
/// Thread-safe. Lengths are rounded up to at most 1/16 above the request, and a request takes the
/// smallest free array up to a quarter longer, so that prompts of different lengths and methods of
/// different windows share arrays; a rented array may be longer than asked and is zeroed. The pool
/// keeps at most twice as many bytes as were ever rented at once (the peak of concurrent generations).
/// </summary>
internal sealed class BufferPool
{
    private readonly SortedDictionary<int, Stack<float[]>> _free = [];
    private long _pooledBytes, _rentedBytes, _peakRentedBytes;

    /// <summary>Bytes held for reuse now (tests, soak measurements).</summary>
    public long PooledBytes { get { lock (_free) return _pooledBytes; } }

    /// <summary>A zeroed array of at least <paramref name="length"/> floats.</summary>
    public float[] Rent(int length)
    {
        int size = RoundUp(length);
        float[]? array = null;
        lock (_free)
        {
            long largest = size + size / 4L;
            foreach (var (freeLength, stack) in _free)
            {
                if (freeLength < size || stack.Count == 0) continue;
                if (freeLength > largest) break;
                array = stack.Pop();
                _pooledBytes -= 4L * freeLength;
                break;
            }
            _rentedBytes += 4L * (array?.Length ?? size);
            _peakRentedBytes = Math.Max(_peakRentedBytes, _rentedBytes);
        }
        if (array is null) return new float[size];
        Array.Clear(array);
        return array;
    }

    /// <summary>Gives an array from <see cref="Rent"/> back; the caller must not use it afterwards.</summary>
    public void Return(float[] array)
    {
        lock (_free)
        {
            _rentedBytes -= 4L * array.Length;
            if (_pooledBytes + 4L * array.Length > 2 * _peakRentedBytes) return; // more than ever needed at once: let it go
            if (!_free.TryGetValue(array.Length, out var stack)) _free[array.Length] = stack = new Stack<float[]>();
            stack.Push(array);
            _pooledBytes += 4L * array.Length;
        }
    }

    /// <summary>Rents for one generation: every array rented through the lease goes back when it is disposed.</summary>
    public Lease NewLease() => new(this);

    private static int RoundUp(int length)
    {
        if (length <= 1024) return Math.Max(length, 1);
        int step = (int)(System.Numerics.BitOperations.RoundUpToPowerOf2((uint)length) / 16);
        long rounded = ((long)length + step - 1) / step * step;
        return (int)Math.Min(rounded, Array.MaxLength);
    }

    /// <summary>The arrays of one generation.</summary>
    internal sealed class Lease(BufferPool pool) : IDisposable
    {
        private readonly List<float[]> _rented = [];

        /// <summary>A zeroed array of at least <paramref name="length"/> floats, returned with the lease.</summary>
        public float[] Floats(int length)
        {
            var array = pool.Rent(length);
            _rented.Add(array);
            return array;
        }

        public void Dispose()
        {
            foreach (var array in _rented) pool.Return(array);
            _rented.Clear();
        }
    }
}
