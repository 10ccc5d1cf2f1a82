namespace Sjd2Onnx;

/// <summary>How SJD and SJD++ fill new draft slots at the end of the window (a spatial prior).</summary>
public enum DraftInitialization
{
    /// <summary>A uniformly random code.</summary>
    Random,

    /// <summary>The code to the left (the previous code in raster order).</summary>
    Horizontal,

    /// <summary>The code above (the left one in the first row).</summary>
    Vertical,
}
