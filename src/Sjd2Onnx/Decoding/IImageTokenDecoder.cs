namespace Sjd2Onnx.Decoding;

/// <summary>One decoding method: fills every image code of a <see cref="DecodingContext"/>.</summary>
internal interface IImageTokenDecoder
{
    /// <summary>Longest window (new tokens per pass) the decoder will feed.</summary>
    int MaxWindow { get; }

    /// <summary>Decodes all codes (row-major, h·w). The context is prefilled by the caller.</summary>
    int[] Decode(DecodingContext context);
}
