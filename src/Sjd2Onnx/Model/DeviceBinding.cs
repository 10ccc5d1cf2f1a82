using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;

namespace Sjd2Onnx.Model;

/// <summary>
/// An <see cref="OrtIoBinding"/> that binds host inputs the way the execution provider takes them
/// (<see cref="HostInputTransfer"/>). Callers bind host inputs through <see cref="BindHostInput"/>
/// and ask <see cref="RenewsHostInputs"/> whether a binding made for an earlier run is still good.
/// </summary>
internal sealed class DeviceBinding : IDisposable
{
    private readonly OrtIoBinding _binding;
    private readonly HostInputTransfer _transfer;
    // EmulatedCopy: the private copy each host input was bound as, by input name.
    private readonly Dictionary<string, (byte[] Bytes, OrtValue Value)> _copies = [];

    public DeviceBinding(InferenceSession session, HostInputTransfer transfer)
    {
        _binding = session.CreateIoBinding();
        _transfer = transfer;
    }

    /// <summary>
    /// True where binding copies host inputs (CUDA, DirectML, their emulation): every host input
    /// whose values may have changed is bound again before each run. False on the CPU provider,
    /// which reads the bound host memory itself, so a binding is made once per buffer.
    /// </summary>
    public bool RenewsHostInputs => _transfer != HostInputTransfer.ReadInPlace;

    /// <summary>Binds a tensor in host memory as input <paramref name="name"/>, with the provider's transfer semantics.</summary>
    public void BindHostInput(string name, OrtValue value)
    {
        var bytes = value.GetTensorMutableRawData();
        if (_transfer != HostInputTransfer.EmulatedCopy || bytes.Length == 0)
        {
            _binding.BindInput(name, value);
            return;
        }
        // What a device does at bind time: take the values as they are now into memory of its own.
        var info = value.GetTensorTypeAndShape();
        byte[]? buffer = null;
        if (_copies.Remove(name, out var old))
        {
            old.Value.Dispose();
            if (old.Bytes.Length >= bytes.Length) buffer = old.Bytes;
        }
        buffer ??= GC.AllocateArray<byte>(bytes.Length, pinned: true);
        bytes.CopyTo(buffer);
        var copy = (Bytes: buffer, Value: OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, info.ElementDataType, info.Shape,
            Marshal.UnsafeAddrOfPinnedArrayElement(buffer, 0), bytes.Length));
        _copies[name] = copy;
        _binding.BindInput(name, copy.Value);
    }

    /// <summary>Binds a tensor in the provider's own memory (a KV cache view) as input <paramref name="name"/>: never copied.</summary>
    public void BindDeviceInput(string name, OrtValue value) => _binding.BindInput(name, value);

    /// <summary>
    /// Binds a buffer that is device memory unless <paramref name="inHostMemory"/> (a KV cache kept on
    /// the host under a copying provider, <see cref="KvCacheGraphs.CacheIsHostInput"/>).
    /// </summary>
    public void BindInput(string name, OrtValue value, bool inHostMemory)
    {
        if (inHostMemory) BindHostInput(name, value);
        else BindDeviceInput(name, value);
    }

    /// <summary>Binds output <paramref name="name"/> to <paramref name="value"/> (host or device memory: written by each run).</summary>
    public void BindOutput(string name, OrtValue value) => _binding.BindOutput(name, value);

    /// <summary>
    /// Runs <paramref name="session"/> over the binding. Where inputs were copied, the copies are
    /// waited for first and the host outputs after (another generation's run may share the stream).
    /// </summary>
    public void Run(InferenceSession session, RunOptions runOptions)
    {
        if (_transfer == HostInputTransfer.CopiedAtBind) _binding.SynchronizeBoundInputs();
        session.RunWithBinding(runOptions, _binding);
        if (_transfer == HostInputTransfer.CopiedAtBind) _binding.SynchronizeBoundOutputs();
    }

    public void Dispose()
    {
        _binding.Dispose();
        foreach (var (_, value) in _copies.Values) value.Dispose();
        _copies.Clear();
    }
}
