namespace Sjd2Onnx;

/// <summary>How new draft slots at the end of the window are filled (a spatial prior, or SJD2's pure noise).</summary>
public enum DraftInitialization
{
    /// <summary>A uniformly random code.</summary>
    Random,

    /// <summary>The code to the left (the previous code in raster order).</summary>
    Horizontal,

    /// <summary>The code above (the left one in the first row).</summary>
    Vertical,

    /// <summary>SJD2 only, as published: pure embedding noise and no draft token until the slot is first predicted.</summary>
    Noise,
}
