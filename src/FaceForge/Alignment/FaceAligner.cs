using FaceForge.Imaging;

namespace FaceForge.Alignment;

/// <summary>
/// Crops faces into a template's frame by a 5-point similarity transform and a bilinear warp, as InsightFace's
/// norm_crop does (pixel-index coordinates, black outside the source), averaged over the footprint where the face is
/// two or more times the template's size (<see cref="Warp"/>). Never modifies its input.
/// </summary>
/// <remarks>Stateless and thread-safe.</remarks>
public static class FaceAligner
{
    /// <summary>Returns a new aligned crop of <paramref name="image"/>.</summary>
    /// <exception cref="ArgumentException">The landmarks cannot belong to a face in this image (see <see cref="Problem(FaceLandmarks, int, int, AlignmentTemplate)"/>).</exception>
    public static RgbImage Align(RgbImage image, FaceLandmarks landmarks, AlignmentTemplate template)
    {
        if (Problem(landmarks, image.Width, image.Height, template) is { } problem) throw new ArgumentException(problem);
        var transform = SimilarityTransform.Estimate(landmarks, template);
        var crop = new RgbImage(template.Width, template.Height);
        Warp(image, transform, crop.Pixels, template.Width, template.Height);
        return crop;
    }

    /// <summary>
    /// Moves an already aligned crop into <paramref name="template"/>'s frame. A crop with the template's proportions
    /// is resized. A crop with the proportions of another known template is taken to be in that template's frame and
    /// moved by the similarity between the two templates' points, so the face keeps its shape: a 112x112 ArcFace crop
    /// (InsightFace's .bin sets and RecordIO packs) loses 8 columns each side for a 112x96 SphereFace model, where
    /// resizing would squash the face to 86 % of its width; a 112x96 crop for a 112x112 model gains 8 black columns
    /// each side. A crop of any other proportions is resized whole. Returns <paramref name="crop"/> itself when it
    /// already has the template's size.
    /// </summary>
    public static RgbImage Reframe(RgbImage crop, AlignmentTemplate template)
    {
        if (crop.Width == template.Width && crop.Height == template.Height) return crop;
        if (!template.HasProportions(crop.Width, crop.Height) && AlignmentTemplate.OfProportions(crop.Width, crop.Height) is { } known)
        {
            // Resized to the known template's own size first: a filtered resize, then a warp at scale one.
            var native = crop.Width == known.Width ? crop : ImageResizer.Resize(crop, known.Width, known.Height);
            return Align(native, known.Points, template);
        }
        return ImageResizer.Resize(crop, template.Width, template.Height);
    }

    /// <summary>
    /// Why <paramref name="landmarks"/> cannot be aligned to <paramref name="template"/>, or null: <see cref="Problem(FaceLandmarks, int, int)"/>,
    /// or points in a mirrored or collapsed arrangement, which fit a similarity of (nearly) zero scale: no face to crop.
    /// </summary>
    public static string? Problem(FaceLandmarks landmarks, int width, int height, AlignmentTemplate template)
    {
        if (Problem(landmarks, width, height) is { } problem) return problem;
        var transform = SimilarityTransform.Estimate(landmarks, template);
        return transform.Scale > 1e-4f && float.IsFinite(transform.Scale) ? null
            : $"the landmarks ({string.Join(", ", landmarks.ToArray().Select(p => $"{p.X:0.#} {p.Y:0.#}"))}) are not arranged as a face's (mirrored or collapsed): no alignment fits them";
    }

    /// <summary>
    /// Why <paramref name="landmarks"/> cannot belong to a face in a <paramref name="width"/> x <paramref name="height"/>
    /// image, or null: the eyes less than a pixel apart (no transform), or a point farther outside the image than its
    /// own size (a crop of nothing but border).
    /// </summary>
    public static string? Problem(FaceLandmarks landmarks, int width, int height)
    {
        if (System.Numerics.Vector2.Distance(landmarks.LeftEye, landmarks.RightEye) < 1)
            return $"the eyes ({landmarks.LeftEye.X:0.##}, {landmarks.LeftEye.Y:0.##}) and ({landmarks.RightEye.X:0.##}, {landmarks.RightEye.Y:0.##}) are less than a pixel apart";
        foreach (var p in landmarks.ToArray())
            if (p.X < -width || p.X > 2 * width || p.Y < -height || p.Y > 2 * height)
                return $"landmark ({p.X:g4}, {p.Y:g4}) lies far outside the {width}x{height} image";
        return null;
    }

    /// <summary>
    /// Writes the <paramref name="width"/> x <paramref name="height"/> RGB result of mapping <paramref name="image"/>
    /// through <paramref name="sourceToTarget"/> into <paramref name="destination"/>. Where the warp shrinks the image
    /// by a factor of two or more, each output pixel averages k x k bilinear samples spread over its footprint (k the
    /// whole part of the shrink factor, at most <see cref="MaxSupersampling"/>): a single bilinear sample would read 4
    /// of the k^2 or more source pixels under it and alias skin texture and sensor noise into the crop, as happens to
    /// a face with 100 pixels between the eyes in a phone photo (35 in the templates). Below a factor of two (LFW's
    /// photos, 42 pixels between the eyes) it is InsightFace's plain bilinear warp, sample for sample.
    /// </summary>
    public static void Warp(RgbImage image, SimilarityTransform sourceToTarget, Span<byte> destination, int width, int height)
    {
        if (destination.Length < width * height * 3)
            throw new ArgumentException($"Destination holds {destination.Length} bytes; {width}x{height} RGB needs {width * height * 3}.", nameof(destination));
        var back = sourceToTarget.Inverse();
        var source = image.Buffer;
        int w = image.Width, h = image.Height;
        int k = Supersampling(back.Scale);
        // Sub-sample offsets within the output pixel, centred on it: 0 when k is 1.
        float step = 1f / k, first = step / 2 - 0.5f, weight = 1f / (k * k);
        Span<float> sum = stackalloc float[3];
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                sum.Clear();
                for (int j = 0; j < k; j++)
                {
                    float ty = y + first + j * step;
                    for (int i = 0; i < k; i++)
                    {
                        float tx = x + first + i * step;
                        float sx = back.A * tx - back.B * ty + back.Tx;
                        float sy = back.B * tx + back.A * ty + back.Ty;
                        int x0 = (int)MathF.Floor(sx), y0 = (int)MathF.Floor(sy);
                        float fx = sx - x0, fy = sy - y0;
                        for (int c = 0; c < 3; c++)
                            sum[c] += (1 - fx) * (1 - fy) * Sample(source, w, h, x0, y0, c)
                                    + fx * (1 - fy) * Sample(source, w, h, x0 + 1, y0, c)
                                    + (1 - fx) * fy * Sample(source, w, h, x0, y0 + 1, c)
                                    + fx * fy * Sample(source, w, h, x0 + 1, y0 + 1, c);
                    }
                }
                int o = (y * width + x) * 3;
                for (int c = 0; c < 3; c++) destination[o + c] = (byte)Math.Clamp((int)(sum[c] * weight + 0.5f), 0, 255);
            }
        }
    }

    /// <summary>The most samples per axis <see cref="Warp"/> averages per output pixel (a shrink of 16 or more).</summary>
    public const int MaxSupersampling = 16;

    /// <summary>Samples per axis for a warp that reads <paramref name="sourcePixelsPerOutputPixel"/> source pixels per output pixel along each axis.</summary>
    internal static int Supersampling(float sourcePixelsPerOutputPixel) =>
        Math.Clamp((int)MathF.Floor(sourcePixelsPerOutputPixel + 1e-4f), 1, MaxSupersampling);

    private static float Sample(byte[] source, int w, int h, int x, int y, int c) =>
        (uint)x < (uint)w && (uint)y < (uint)h ? source[(y * w + x) * 3 + c] : 0f;
}
