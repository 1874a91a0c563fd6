using System.Numerics;

namespace FaceForge.Alignment;

/// <summary>
/// A 2-D similarity transform x' = a x - b y + tx, y' = b x + a y + ty (rotation, uniform scale, translation).
/// </summary>
public readonly record struct SimilarityTransform(float A, float B, float Tx, float Ty)
{
    /// <summary>The identity.</summary>
    public static SimilarityTransform Identity => new(1, 0, 0, 0);

    /// <summary>Scale factor.</summary>
    public float Scale => MathF.Sqrt(A * A + B * B);

    /// <summary>Maps a point.</summary>
    public Vector2 Apply(Vector2 p) => new(A * p.X - B * p.Y + Tx, B * p.X + A * p.Y + Ty);

    /// <summary>The inverse transform.</summary>
    public SimilarityTransform Inverse()
    {
        float d = A * A + B * B;
        if (d == 0) throw new InvalidOperationException("A zero-scale transform has no inverse.");
        float ia = A / d, ib = -B / d;
        return new(ia, ib, -(ia * Tx - ib * Ty), -(ib * Tx + ia * Ty));
    }

    /// <summary>
    /// Least-squares similarity mapping <paramref name="from"/> onto <paramref name="to"/> (Umeyama, 1991). For 2-D
    /// the optimum has a closed form; reflections are excluded, as faces are never mirrored by alignment.
    /// </summary>
    public static SimilarityTransform Estimate(ReadOnlySpan<Vector2> from, ReadOnlySpan<Vector2> to)
    {
        if (from.Length != to.Length || from.Length < 2)
            throw new ArgumentException($"Need two equally long point lists of at least 2 points, got {from.Length} and {to.Length}.");
        Vector2 meanFrom = default, meanTo = default;
        for (int i = 0; i < from.Length; i++) { meanFrom += from[i]; meanTo += to[i]; }
        meanFrom /= from.Length;
        meanTo /= from.Length;
        double dot = 0, cross = 0, norm = 0;
        for (int i = 0; i < from.Length; i++)
        {
            Vector2 s = from[i] - meanFrom, d = to[i] - meanTo;
            dot += s.X * d.X + s.Y * d.Y;
            cross += s.X * d.Y - s.Y * d.X;
            norm += s.X * s.X + s.Y * s.Y;
        }
        if (norm < 1e-12)
            throw new ArgumentException("Source points coincide; no transform can be estimated.", nameof(from));
        float a = (float)(dot / norm), b = (float)(cross / norm);
        return new(a, b, meanTo.X - (a * meanFrom.X - b * meanFrom.Y), meanTo.Y - (b * meanFrom.X + a * meanFrom.Y));
    }

    /// <summary>The transform that takes <paramref name="landmarks"/> onto <paramref name="template"/>'s points.</summary>
    public static SimilarityTransform Estimate(FaceLandmarks landmarks, AlignmentTemplate template) =>
        Estimate(landmarks.ToArray(), template.Points.ToArray());
}
