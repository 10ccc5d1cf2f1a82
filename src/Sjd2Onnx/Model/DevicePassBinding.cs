using Microsoft.ML.OnnxRuntime;

namespace Sjd2Onnx.Model;

/// <summary>
/// The transformer's binding over a <see cref="DeviceKvCache"/>, made once per rental and partly
/// rebound per pass: the cache, the new rows and the mask stay in the provider's memory.
/// </summary>
internal sealed class DevicePassBinding(TransformerPass pass, bool cacheOnHost) : IDisposable
{
    // The cache views are rebound when the stride grows, the new-rows views and the logits when the
    // window size changes. The host inputs are rebound when their buffer or the window size changes
    // where the provider reads host memory in place (CPU), and on every pass where binding copies them
    // to a device: there a binding is a snapshot.
    private readonly DeviceBinding _binding = new(pass.Session, pass.Transfer);
    private int _boundCache = -1, _boundWindow;   // the cache version and window size the binding holds
    private float[]? _boundEmbeds;                // the embeddings buffer the binding holds
    private OrtValue? _boundMask;                 // the attention mask view the binding holds
    // Views of the host buffers a pass binds, made once per buffer and window size: making and
    // binding them every pass took about as long as the KV cache's prepare step.
    private readonly Dictionary<(object Buffer, int Window), OrtValue> _hostViews = [];

    /// <summary>Runs the pass over <paramref name="cache"/> with the mask its prepare step built.</summary>
    public void Run(DeviceKvCache cache, OrtValue mask, RunOptions runOptions)
    {
        int s = pass.Window, batch = pass.Batch, tensors = 2 * pass.Layers;
        if (_boundCache != cache.CacheVersion || cacheOnHost)   // cache views in host memory are host inputs, bound again every pass
        {
            for (int i = 0; i < tensors; i++) _binding.BindInput(pass.InputNames[3 + i], cache.Past(i), cacheOnHost);
            _boundCache = cache.CacheVersion;
        }
        if (!ReferenceEquals(_boundMask, mask) || cacheOnHost)
        {
            _binding.BindInput("attention_mask", mask, cacheOnHost);
            _boundMask = mask;
        }
        bool resized = _boundWindow != s;
        if (resized || !ReferenceEquals(_boundEmbeds, pass.Embeds) || _binding.RenewsHostInputs)
        {
            _binding.BindHostInput("inputs_embeds", HostView(pass.Embeds, s, [batch, s, pass.Hidden]));
            _binding.BindHostInput("position_ids", HostView(pass.Positions, s, [batch, s]));
            if (pass.NoiseLevels is { } noise) _binding.BindHostInput("noise_levels", HostView(noise, s, [batch, s]));
            if (pass.WindowMask is { } windowMask) _binding.BindHostInput("window_mask", HostView(windowMask, s, [s, s]));
            _boundEmbeds = pass.Embeds;
        }
        if (resized)
        {
            _binding.BindOutput("logits", pass.TopK?.Logits(s) ?? HostView(pass.Logits, s, [batch, s, pass.Codebook]));
            for (int i = 0; i < tensors; i++) _binding.BindOutput(pass.OutputNames[1 + i], cache.NewRows(i, s));
            _boundWindow = s;
        }
        _binding.Run(pass.Session, runOptions);
    }

    // A view of the first elements of a host buffer with this shape (for a window of s tokens), kept for the binding's lifetime.
    private OrtValue HostView<T>(T[] buffer, int window, long[] shape) where T : unmanaged
    {
        if (!_hostViews.TryGetValue((buffer, window), out var view))
        {
            long count = 1;
            foreach (long d in shape) count *= d;
            _hostViews[(buffer, window)] = view =
                OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, buffer.AsMemory(0, (int)count), shape);
        }
        return view;
    }

    public void Dispose()
    {
        _binding.Dispose();
        foreach (var view in _hostViews.Values) view.Dispose();
    }
}
