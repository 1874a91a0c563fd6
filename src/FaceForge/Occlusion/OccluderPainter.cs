using System.Numerics;
using FaceForge.Alignment;
using FaceForge.Detection;
using FaceForge.Imaging;

namespace FaceForge.Occlusion;

/// <summary>
/// Paints occluders onto a real face, placed by its five landmarks, and marks the face pixels they hide. Shapes are
/// drawn in the face's own frame (x along the eyes, y towards the mouth, one unit = the eye distance), so they turn
/// and scale with the head; colours are scaled by the face's mean brightness so a mask is not lit brighter than
/// the face it sits on.
/// </summary>
/// <remarks>Stateless; each call writes only the image and map it is given.</remarks>
public static class OccluderPainter
{
    private static readonly Vector3[] SkinTones = [new(255, 219, 172), new(241, 194, 125), new(224, 172, 105), new(198, 134, 66), new(141, 85, 36), new(92, 58, 30)];

    /// <summary>
    /// Paints one <paramref name="kind"/> occluder on the face (<paramref name="box"/>, <paramref name="landmarks"/>)
    /// of <paramref name="image"/>, and sets <paramref name="occluded"/> (one flag per pixel) where it hides a pixel of
    /// the face box. <paramref name="overlay"/> is required for <see cref="OcclusionKind.Mask"/>.
    /// </summary>
    public static void Paint(RgbImage image, bool[] occluded, FaceBox box, FaceLandmarks landmarks, OcclusionKind kind, MaskOverlay? overlay, Random random)
    {
        if (occluded.Length != image.Width * image.Height) throw new ArgumentException($"Occlusion map of {occluded.Length} pixels for a {image.Width}x{image.Height} image.", nameof(occluded));
        var frame = new FaceFrame(landmarks);
        float light = Math.Clamp(MeanLuminance(image, box) / 150f, 0.45f, 1.15f);
        switch (kind)
        {
            case OcclusionKind.Mask: PaintMask(image, occluded, box, frame, overlay ?? throw new ArgumentException("A mask occluder needs a mask overlay.", nameof(overlay)), light, random); break;
            case OcclusionKind.Sunglasses: PaintSunglasses(image, occluded, box, frame, random); break;
            case OcclusionKind.Hand: PaintHand(image, occluded, box, frame, light, random); break;
            case OcclusionKind.Scarf: PaintScarf(image, occluded, box, frame, light, random); break;
            case OcclusionKind.HalfCover: PaintHalfCover(image, occluded, box, random); break;
            default: throw new ArgumentOutOfRangeException(nameof(kind), kind, null);
        }
    }

    private static void PaintMask(RgbImage image, bool[] occluded, FaceBox box, FaceFrame frame, MaskOverlay overlay, float light, Random random)
    {
        // From the middle of the nose to below the chin, ear to ear; the centre follows the nose when the head turns.
        float centre = 0.6f * frame.NoseX + Jitter(random, 0.05f);
        float half = 1.25f + Jitter(random, 0.1f);
        float top = frame.NoseY * (0.25f + Jitter(random, 0.1f)), bottom = frame.MouthY * (1.8f + Jitter(random, 0.1f));
        float shade = light * (0.85f + 0.2f * random.NextSingle());
        Fill(image, occluded, box, frame.Bounds(centre - half, top, centre + half, bottom), p =>
        {
            var (x, y) = frame.ToFace(p);
            var (r, g, b, a) = overlay.Sample((x - centre + half) / (2 * half), (y - top) / (bottom - top));
            return (a, new Vector3(r, g, b) * shade);
        });
    }

    private static void PaintSunglasses(RgbImage image, bool[] occluded, FaceBox box, FaceFrame frame, Random random)
    {
        float rx = 0.38f + Jitter(random, 0.06f), ry = rx * (0.78f + Jitter(random, 0.1f)), dy = Jitter(random, 0.05f);
        var tint = new Vector3(20 + 40 * random.NextSingle(), 20 + 30 * random.NextSingle(), 20 + 40 * random.NextSingle());
        float edge = 1.5f / (rx * frame.Scale);
        Fill(image, occluded, box, frame.Bounds(-0.5f - rx - 0.6f, dy - ry - 0.1f, 0.5f + rx + 0.6f, dy + ry + 0.1f), p =>
        {
            var (x, y) = frame.ToFace(p);
            y -= dy;
            float lens = MathF.Min(Ellipse(x + 0.5f, y, rx, ry), Ellipse(x - 0.5f, y, rx, ry));
            float alpha = Coverage(lens, edge);
            // The bridge between the lenses and the temples towards the ears.
            bool frameBar = (MathF.Abs(x) < 0.5f && MathF.Abs(y + 0.3f * ry) < 0.04f) || (MathF.Abs(x) > 0.5f + rx * 0.9f && MathF.Abs(x) < 0.5f + rx + 0.55f && MathF.Abs(y + 0.2f * ry) < 0.035f);
            if (frameBar) alpha = 1;
            // A highlight across the upper part of each lens.
            float glare = Math.Clamp(-y / ry, 0, 1) * 35;
            return (0.97f * alpha, tint + new Vector3(glare));
        });
    }

    private static void PaintHand(RgbImage image, bool[] occluded, FaceBox box, FaceFrame frame, float light, Random random)
    {
        float size = 0.85f + 0.4f * random.NextSingle();
        var centre = new Vector2(Jitter(random, 0.8f), frame.MouthY * (0.2f + 1.2f * random.NextSingle()));
        float angle = Jitter(random, MathF.PI);
        var (cos, sin) = (MathF.Cos(angle), MathF.Sin(angle));
        var skin = SkinTones[random.Next(SkinTones.Length)] * light * (0.9f + 0.2f * random.NextSingle());
        float reach = 1.9f * size;
        float edge = 1.5f / (0.5f * size * frame.Scale);
        Fill(image, occluded, box, frame.Bounds(centre.X - reach, centre.Y - reach, centre.X + reach, centre.Y + reach), p =>
        {
            var (fx, fy) = frame.ToFace(p);
            // Hand coordinates: u across the palm, v along the fingers (negative towards the fingertips).
            float dx = fx - centre.X, dy = fy - centre.Y;
            float u = (cos * dx + sin * dy) / size, v = (-sin * dx + cos * dy) / size;
            float shape = Ellipse(u, v, 0.5f, 0.6f);
            for (int f = 0; f < 4; f++)
                shape = MathF.Min(shape, Capsule(u, v, -0.33f + 0.22f * f, -0.45f, -0.33f + 0.22f * f, -1.1f + 0.12f * MathF.Abs(f - 1.5f), 0.1f));
            shape = MathF.Min(shape, Capsule(u, v, 0.45f, 0.1f, 0.85f, -0.35f, 0.11f));
            float alpha = Coverage(shape, edge);
            // Darker towards the outline, as a rounded hand is lit.
            float shading = 0.8f + 0.2f * Math.Clamp(1 - shape, 0, 1);
            return (alpha, skin * shading);
        });
    }

    private static void PaintScarf(RgbImage image, bool[] occluded, FaceBox box, FaceFrame frame, float light, Random random)
    {
        var colour = new Vector3(40 + 200 * random.NextSingle(), 40 + 200 * random.NextSingle(), 40 + 200 * random.NextSingle()) * light;
        var second = colour * (0.45f + 0.3f * random.NextSingle());
        float top = frame.MouthY * (0.7f + 0.35f * random.NextSingle()), wave = 0.06f + 0.06f * random.NextSingle(), phase = 6.28f * random.NextSingle();
        float stripe = 3 + 6 * random.NextSingle(), slant = Jitter(random, 1f);
        bool checks = random.Next(3) == 0;
        float bottom = frame.MouthY + 1.6f;
        Fill(image, occluded, box, frame.Bounds(-1.9f, top - 0.2f, 1.9f, bottom), p =>
        {
            var (x, y) = frame.ToFace(p);
            float edgeTop = top + wave * MathF.Sin(5 * x + phase);
            if (y < edgeTop || MathF.Abs(x) > 1.45f + 0.35f * (y - top)) return (0, default);
            float s = MathF.Sin(stripe * (x + slant * y)) * (checks ? MathF.Sin(stripe * (y - slant * x)) : 1);
            float folds = 0.85f + 0.15f * MathF.Sin(9 * x + 2 * y);
            return (1, (s > 0 ? colour : second) * folds);
        });
    }

    private static void PaintHalfCover(RgbImage image, bool[] occluded, FaceBox box, Random random)
    {
        // A flat object (a sheet, a door, someone in front) over one half of the box, reaching past its edges.
        int side = random.Next(4);
        float w = box.Width, h = box.Height, cx = box.Centre.X + Jitter(random, 0.1f) * w, cy = box.Centre.Y + Jitter(random, 0.1f) * h;
        var (l, t, r, b) = side switch
        {
            0 => (box.Left - 0.5f * w, box.Top - 0.3f * h, cx, box.Bottom + 0.3f * h),
            1 => (cx, box.Top - 0.3f * h, box.Right + 0.5f * w, box.Bottom + 0.3f * h),
            2 => (box.Left - 0.3f * w, box.Top - 0.5f * h, box.Right + 0.3f * w, cy),
            _ => (box.Left - 0.3f * w, cy, box.Right + 0.3f * w, box.Bottom + 0.5f * h),
        };
        var colour = new Vector3(255 * random.NextSingle(), 255 * random.NextSingle(), 255 * random.NextSingle());
        var gradient = new Vector3(Jitter(random, 40), Jitter(random, 40), Jitter(random, 40));
        float span = MathF.Max(r - l, b - t);
        Fill(image, occluded, box, (l, t, r, b), p =>
        {
            float along = ((p.X - l) + (p.Y - t)) / (2 * span);
            return (1, colour + gradient * along);
        });
    }

    /// <summary>Blends <paramref name="shader"/> (alpha, colour) into every pixel centre of <paramref name="bounds"/>; marks face-box pixels with alpha >= 0.5.</summary>
    private static void Fill(RgbImage image, bool[] occluded, FaceBox box, (float Left, float Top, float Right, float Bottom) bounds, Func<Vector2, (float Alpha, Vector3 Colour)> shader)
    {
        int x0 = Math.Max(0, (int)MathF.Floor(bounds.Left)), x1 = Math.Min(image.Width - 1, (int)MathF.Ceiling(bounds.Right));
        int y0 = Math.Max(0, (int)MathF.Floor(bounds.Top)), y1 = Math.Min(image.Height - 1, (int)MathF.Ceiling(bounds.Bottom));
        var pixels = image.Pixels;
        for (int y = y0; y <= y1; y++)
            for (int x = x0; x <= x1; x++)
            {
                var (alpha, colour) = shader(new Vector2(x + 0.5f, y + 0.5f));
                if (alpha <= 0) continue;
                alpha = MathF.Min(alpha, 1);
                int i = 3 * (y * image.Width + x);
                pixels[i] = Blend(pixels[i], colour.X, alpha);
                pixels[i + 1] = Blend(pixels[i + 1], colour.Y, alpha);
                pixels[i + 2] = Blend(pixels[i + 2], colour.Z, alpha);
                if (alpha >= 0.5f && x + 0.5f >= box.Left && x + 0.5f <= box.Right && y + 0.5f >= box.Top && y + 0.5f <= box.Bottom)
                    occluded[y * image.Width + x] = true;
            }
    }

    private static byte Blend(byte under, float over, float alpha) => (byte)Math.Clamp(under + alpha * (over - under) + 0.5f, 0, 255);

    /// <summary>Normalised radius of (x, y) in an ellipse: below 1 inside.</summary>
    private static float Ellipse(float x, float y, float rx, float ry) => MathF.Sqrt(x * x / (rx * rx) + y * y / (ry * ry));

    /// <summary>Distance from (x, y) to the segment (ax, ay)-(bx, by), over <paramref name="radius"/>: below 1 inside.</summary>
    private static float Capsule(float x, float y, float ax, float ay, float bx, float by, float radius)
    {
        var p = new Vector2(x - ax, y - ay);
        var d = new Vector2(bx - ax, by - ay);
        float t = Math.Clamp(Vector2.Dot(p, d) / d.LengthSquared(), 0, 1);
        return (p - t * d).Length() / radius;
    }

    /// <summary>Anti-aliased coverage of a shape whose normalised radius is <paramref name="value"/> (edge about a pixel wide).</summary>
    private static float Coverage(float value, float edge) => Math.Clamp((1 - value) / MathF.Max(edge, 1e-3f) + 0.5f, 0, 1);

    private static float Jitter(Random random, float amount) => amount * (2 * random.NextSingle() - 1);

    private static float MeanLuminance(RgbImage image, FaceBox box)
    {
        int x0 = Math.Clamp((int)box.Left, 0, image.Width - 1), x1 = Math.Clamp((int)box.Right, x0 + 1, image.Width);
        int y0 = Math.Clamp((int)box.Top, 0, image.Height - 1), y1 = Math.Clamp((int)box.Bottom, y0 + 1, image.Height);
        var pixels = image.Pixels;
        double sum = 0;
        for (int y = y0; y < y1; y++)
            for (int x = x0; x < x1; x++)
            {
                int i = 3 * (y * image.Width + x);
                sum += 0.299 * pixels[i] + 0.587 * pixels[i + 1] + 0.114 * pixels[i + 2];
            }
        return (float)(sum / ((x1 - x0) * (y1 - y0)));
    }

    /// <summary>
    /// The face's frame: origin between the eyes, x towards the right eye, y towards the mouth, one unit = the eye
    /// distance (at least half the eye-to-mouth distance, so a profile face does not collapse it).
    /// </summary>
    private readonly struct FaceFrame
    {
        private readonly Vector2 _origin, _x, _y;

        public FaceFrame(FaceLandmarks m)
        {
            _origin = (m.LeftEye + m.RightEye) / 2;
            var mouth = (m.LeftMouth + m.RightMouth) / 2;
            var across = m.RightEye - m.LeftEye;
            var down = mouth - _origin;
            _x = across.LengthSquared() > 1e-6f ? Vector2.Normalize(across) : Vector2.UnitX;
            var perpendicular = new Vector2(-_x.Y, _x.X);
            if (Vector2.Dot(perpendicular, down) < 0) perpendicular = -perpendicular;
            _y = perpendicular;
            Scale = MathF.Max(MathF.Max(across.Length(), 0.5f * down.Length()), 2f);
            MouthY = Math.Clamp(Vector2.Dot(down, _y) / Scale, 0.6f, 2f);
            var nose = m.Nose - _origin;
            NoseX = Vector2.Dot(nose, _x) / Scale;
            NoseY = Math.Clamp(Vector2.Dot(nose, _y) / Scale, 0.3f * MouthY, 0.9f * MouthY);
        }

        /// <summary>Pixels per unit.</summary>
        public float Scale { get; }

        /// <summary>The mouth's distance below the eyes, in units.</summary>
        public float MouthY { get; }

        /// <summary>The nose's offset along the eyes (non-zero when the head turns), in units.</summary>
        public float NoseX { get; }

        /// <summary>The nose's distance below the eyes, in units.</summary>
        public float NoseY { get; }

        public (float X, float Y) ToFace(Vector2 p)
        {
            var d = p - _origin;
            return (Vector2.Dot(d, _x) / Scale, Vector2.Dot(d, _y) / Scale);
        }

        /// <summary>The pixel bounds of a face-frame rectangle.</summary>
        public (float Left, float Top, float Right, float Bottom) Bounds(float left, float top, float right, float bottom)
        {
            Span<Vector2> corners = [ToImage(left, top), ToImage(right, top), ToImage(left, bottom), ToImage(right, bottom)];
            float l = float.MaxValue, t = float.MaxValue, r = float.MinValue, b = float.MinValue;
            foreach (var c in corners) (l, t, r, b) = (MathF.Min(l, c.X), MathF.Min(t, c.Y), MathF.Max(r, c.X), MathF.Max(b, c.Y));
            return (l, t, r, b);
        }

        private Vector2 ToImage(float x, float y) => _origin + Scale * (x * _x + y * _y);
    }
}
