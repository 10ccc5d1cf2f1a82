namespace Sjd2Onnx.Evaluation;

/// <summary>One shape of a rendered scene, in the world's pixel units.</summary>
/// <param name="Color">Colour name.</param>
/// <param name="Kind">Shape kind (circle, square, triangle).</param>
/// <param name="Extent">Circle diameter, square side, triangle base and height, in pixels.</param>
/// <param name="X">Centre, x to the right (the bounding box's centre, as the world places shapes).</param>
/// <param name="Y">Centre, y downwards.</param>
internal sealed record ShapesSceneObject(string Color, string Kind, double Extent, double X, double Y)
{
    /// <summary>The shape's bounding box (world pixels: left, top, right, bottom).</summary>
    public (double X0, double Y0, double X1, double Y1) Bounds => (X - Extent / 2, Y - Extent / 2, X + Extent / 2, Y + Extent / 2);

    /// <summary>Whether a point (world pixels, continuous) lies inside the shape.</summary>
    public bool Contains(double x, double y)
    {
        double h = Extent / 2, dx = x - X, dy = y - Y;
        return Kind switch
        {
            "circle" => dx * dx + dy * dy <= h * h,
            "square" => Math.Abs(dx) <= h && Math.Abs(dy) <= h,
            // upward isosceles triangle, base = height = extent, apex at the top of the box
            "triangle" => dy >= -h && dy <= h && Math.Abs(dx) <= (dy + h) / 2,
            _ => false,
        };
    }
}
