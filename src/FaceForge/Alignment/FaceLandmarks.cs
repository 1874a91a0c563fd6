using System.Numerics;

namespace FaceForge.Alignment;

/// <summary>
/// The five facial landmarks used for alignment, in pixel coordinates of the image they belong to, in the
/// conventional order: left eye, right eye, nose tip, left mouth corner, right mouth corner ("left" as seen in the
/// image).
/// </summary>
public readonly record struct FaceLandmarks(Vector2 LeftEye, Vector2 RightEye, Vector2 Nose, Vector2 LeftMouth, Vector2 RightMouth)
{
    /// <summary>Number of points.</summary>
    public const int Count = 5;

    /// <summary>Builds landmarks from ten numbers x1 y1 … x5 y5.</summary>
    public static FaceLandmarks FromFlat(ReadOnlySpan<float> xy)
    {
        if (xy.Length != 2 * Count)
            throw new ArgumentException($"Expected {2 * Count} numbers (x1 y1 … x5 y5), got {xy.Length}.", nameof(xy));
        return new(new(xy[0], xy[1]), new(xy[2], xy[3]), new(xy[4], xy[5]), new(xy[6], xy[7]), new(xy[8], xy[9]));
    }

    /// <summary>The points in order as a new array.</summary>
    public Vector2[] ToArray() => [LeftEye, RightEye, Nose, LeftMouth, RightMouth];

    /// <summary>Ten numbers x1 y1 … x5 y5.</summary>
    public float[] ToFlat() => [LeftEye.X, LeftEye.Y, RightEye.X, RightEye.Y, Nose.X, Nose.Y, LeftMouth.X, LeftMouth.Y, RightMouth.X, RightMouth.Y];

    /// <summary>Each point mapped through <paramref name="map"/>.</summary>
    public FaceLandmarks Select(Func<Vector2, Vector2> map) => new(map(LeftEye), map(RightEye), map(Nose), map(LeftMouth), map(RightMouth));

    /// <summary>The landmarks of the mirrored image of width <paramref name="imageWidth"/>: x reflected, left and right swapped.</summary>
    public FaceLandmarks FlipHorizontal(int imageWidth)
    {
        Vector2 F(Vector2 p) => new(imageWidth - 1 - p.X, p.Y);
        return new(F(RightEye), F(LeftEye), F(Nose), F(RightMouth), F(LeftMouth));
    }
}
