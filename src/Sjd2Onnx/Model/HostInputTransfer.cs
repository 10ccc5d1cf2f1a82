namespace Sjd2Onnx.Model;

/// <summary>How a host-memory tensor bound as a graph input reaches the execution provider.</summary>
internal enum HostInputTransfer
{
    /// <summary>The provider reads the host memory when the graph runs (the CPU provider): a binding made once stays current.</summary>
    ReadInPlace,

    /// <summary>
    /// The provider copies the tensor to its device when it is bound (ONNX Runtime's
    /// <c>IOBinding::BindInput</c> on CUDA and DirectML): an input whose host memory changes must
    /// be bound again before every run.
    /// </summary>
    CopiedAtBind,

    /// <summary>
    /// <see cref="CopiedAtBind"/> imitated on the CPU provider: binding copies the tensor into a
    /// buffer of the binding's own and binds that, so a binding not renewed sees stale values
    /// exactly as a device would. Tests of the device path only.
    /// </summary>
    EmulatedCopy,
}
