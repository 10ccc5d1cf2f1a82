using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Sjd2Onnx.Sampling;

namespace Sjd2Onnx.Model;

/// <summary>
/// One runner's sampling on the provider: the transformer writes its logits into a buffer in the
/// provider's memory, <see cref="TopKSampler"/> reduces them to the top k of each window position,
/// and only those come back to host arrays.
/// </summary>
internal sealed class DeviceTopK : IDisposable
{
    private readonly InferenceSession _session;
    private readonly DeviceBinding _binding;
    private readonly int _batch, _codebook;
    private readonly OrtMemoryAllocation? _deviceLogits;   // null: the provider's memory is host memory, the logits stay in a pinned array
    private readonly float[]? _hostLogits;
    private readonly OrtMemoryInfo _memory;
    private readonly float[] _values;                      // [maxWindow, k]
    private readonly int[] _codes;                         // [maxWindow, k]
    private readonly Dictionary<int, (OrtValue Logits, OrtValue Values, OrtValue Codes)> _views = [];
    private readonly OrtValue[] _scalars;
    private readonly bool _logitsAreHostInput;
    private int _boundWindow;

    public DeviceTopK(TopKSampler sampler, KvCacheGraphs graphs, SamplingSettings settings, int batch, int maxWindow, int codebook)
    {
        K = settings.TopK;
        _batch = batch;
        _codebook = codebook;
        bool guided = batch > 1 && settings.CfgScale != 1f;
        _session = sampler.Session(guided);
        _memory = graphs.Memory;
        _logitsAreHostInput = graphs.CacheIsHostInput;
        long bytes = (long)batch * maxWindow * codebook * sizeof(float);
        if (ReferenceEquals(_memory, OrtMemoryInfo.DefaultInstance)) _hostLogits = GC.AllocateArray<float>((int)(bytes / sizeof(float)), pinned: true);
        else _deviceLogits = graphs.Allocator.Allocate((uint)bytes);
        _values = new float[maxWindow * K];
        _codes = new int[maxWindow * K];
        _scalars =
        [
            OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, new[] { settings.CfgScale }.AsMemory(), []),
            OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, new[] { settings.Temperature }.AsMemory(), []),
            OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, new[] { (long)K }.AsMemory(), [1]),
        ];
        _binding = new DeviceBinding(_session, graphs.Transfer);
        // Constant for the runner's lifetime: bound (and so copied, on a device) once.
        _binding.BindHostInput("cfg", _scalars[0]);
        _binding.BindHostInput("temperature", _scalars[1]);
        _binding.BindHostInput("k", _scalars[2]);
    }

    /// <summary>Codes kept per window position.</summary>
    public int K { get; }

    /// <summary>Where the transformer writes the logits [B,s,K] of a window of <paramref name="s"/> tokens (the provider's memory).</summary>
    public OrtValue Logits(int s) => Views(s).Logits;

    /// <summary>Reduces the last pass's logits to the top k of each of its <paramref name="s"/> positions.</summary>
    public void Run(int s, RunOptions runOptions)
    {
        var (logits, values, codes) = Views(s);
        // Under a copying provider whose memory the engine cannot address (DirectML) the logits are a host input: bound again every pass.
        if (_logitsAreHostInput || _boundWindow != s) _binding.BindInput("logits", logits, _logitsAreHostInput);
        if (_boundWindow != s)
        {
            _binding.BindOutput("values", values);
            _binding.BindOutput("indices", codes);
            _boundWindow = s;
        }
        _binding.Run(_session, runOptions);
    }

    /// <summary>The kept logits (after CFG and temperature) of window position <paramref name="j"/>, descending.</summary>
    public ReadOnlySpan<float> Values(int j) => _values.AsSpan(j * K, K);

    /// <summary>The codes of <see cref="Values"/>, ties in code order.</summary>
    public ReadOnlySpan<int> Codes(int j) => _codes.AsSpan(j * K, K);

    /// <summary>Bytes a pass of <paramref name="s"/> positions reads back.</summary>
    public long ReadBackBytes(int s) => (long)s * K * (sizeof(float) + sizeof(int));

    private (OrtValue Logits, OrtValue Values, OrtValue Codes) Views(int s)
    {
        if (!_views.TryGetValue(s, out var views))
        {
            long count = (long)_batch * s * _codebook;
            var logits = _hostLogits is not null
                ? OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _hostLogits.AsMemory(0, (int)count), [_batch, s, _codebook])
                : OrtValue.CreateTensorValueWithData(_memory, TensorElementType.Float, [_batch, s, _codebook], _deviceLogits!.DangerousGetHandle(), count * sizeof(float));
            _views[s] = views = (logits,
                OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _values.AsMemory(0, s * K), [s, K]),
                OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _codes.AsMemory(0, s * K), [s, K]));
        }
        return views;
    }

    public void Dispose()
    {
        _binding.Dispose();
        foreach (var (logits, values, codes) in _views.Values) { logits.Dispose(); values.Dispose(); codes.Dispose(); }
        foreach (var v in _scalars) v.Dispose();
        _deviceLogits?.Dispose();
    }
}
