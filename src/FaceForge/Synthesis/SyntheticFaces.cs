using System.Globalization;
using System.Text;
using FaceForge.Alignment;
using FaceForge.Imaging;
using SkiaSharp;

namespace FaceForge.Synthesis;

/// <summary>
/// A deterministic generator of face-like identities, the embedded default data of FaceForge. Each identity has
/// stable traits (face shape, eyes, brows, nose, mouth, skin and hair colour, marks); each image adds pose, scale,
/// expression, lighting, blur, noise and sometimes an occluder (sunglasses, mask, hand, scarf).
/// </summary>
/// <remarks>Every method is a pure function of the options and its arguments, and safe to call concurrently.</remarks>
public sealed class SyntheticFaces
{
    private readonly SyntheticFaceOptions _options;

    /// <summary>Creates a generator.</summary>
    public SyntheticFaces(SyntheticFaceOptions options)
    {
        options.Validate();
        _options = options;
    }

    /// <summary>The options.</summary>
    public SyntheticFaceOptions Options => _options;

    /// <summary>The template the aligned crops follow (ArcFace, scaled to <see cref="SyntheticFaceOptions.Size"/>).</summary>
    public AlignmentTemplate Template => _options.Size == AlignmentTemplate.ArcFace112.Width ? AlignmentTemplate.ArcFace112 : AlignmentTemplate.ArcFace112.Scale(_options.Size / 112f);

    internal IdentityTraits Traits(int identity) => IdentityTraits.Sample(new Random(Randomness.SeedMixer.Mix(_options.Seed, identity, -1)));

    /// <summary>Renders image <paramref name="image"/> of identity <paramref name="identity"/> as an aligned crop.</summary>
    public (RgbImage Image, FaceLandmarks Landmarks) RenderAligned(int identity, int image)
    {
        var traits = Traits(identity);
        var random = new Random(Randomness.SeedMixer.Mix(_options.Seed, identity, image));
        var conditions = ImageConditions.Sample(random, (float)_options.OcclusionRate);
        int size = _options.Size;
        // Fit the identity's frontal landmarks to the template (as alignment would), then perturb: alignment never
        // removes all pose, and the identity's own proportions must survive it.
        var frontal = SyntheticFaceRenderer.Landmarks(traits, conditions with { Yaw = 0, Smile = 0 });
        var fit = SimilarityTransform.Estimate(frontal, Template);
        var placement = ToMatrix(fit)
            .PostConcat(SKMatrix.CreateRotationDegrees(conditions.Roll, size / 2f, size / 2f))
            .PostConcat(SKMatrix.CreateScale(conditions.Scale, conditions.Scale, size / 2f, size / 2f))
            .PostConcat(SKMatrix.CreateTranslation(conditions.ShiftX * size / 112f, conditions.ShiftY * size / 112f));

        using var bitmap = new SKBitmap(new SKImageInfo(size, size, SKColorType.Rgba8888, SKAlphaType.Premul));
        using (var canvas = new SKCanvas(bitmap))
        {
            DrawBackground(canvas, size, size, conditions, random, textured: false);
            var (landmarks, _) = SyntheticFaceRenderer.Draw(canvas, null, null, placement, traits, conditions);
            DrawLighting(canvas, size, size, conditions);
            canvas.Flush();
            return (Finish(bitmap, conditions, random), landmarks);
        }
    }

    /// <summary>Covers the left, right, upper or lower half of a face's box with a flat object (heavy occlusion).</summary>
    private static void HideHalf(SKCanvas canvas, SKCanvas occluder, SKRect box, Random random)
    {
        float cx = box.MidX, cy = box.MidY;
        var half = random.Next(4) switch
        {
            0 => new SKRect(box.Left - 2, box.Top - 2, cx, box.Bottom + 2),
            1 => new SKRect(cx, box.Top - 2, box.Right + 2, box.Bottom + 2),
            2 => new SKRect(box.Left - 2, box.Top - 2, box.Right + 2, cy),
            _ => new SKRect(box.Left - 2, cy, box.Right + 2, box.Bottom + 2),
        };
        using var paint = new SKPaint { Color = new SKColor((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256)), IsAntialias = true };
        canvas.DrawRect(half, paint);
        using var white = new SKPaint { Color = SKColors.White };
        occluder.DrawRect(half, white);
    }

    /// <summary>Renders detection scene <paramref name="index"/>: 1 to 4 faces of random identities on a textured background.</summary>
    public DetectionScene RenderScene(int index)
    {
        var random = new Random(Randomness.SeedMixer.Mix(_options.Seed, -2, index));
        int w = _options.SceneWidth, h = _options.SceneHeight;
        int faceCount = 1 + random.Next(4);
        var sceneConditions = ImageConditions.Sample(random, 0);
        using var bitmap = new SKBitmap(new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Premul));
        using var canvas = new SKCanvas(bitmap);
        DrawBackground(canvas, w, h, sceneConditions, random, textured: true);
        var faces = new List<SceneFace>();
        var map = new byte[w * h];
        var placed = new List<SKRect>();
        for (int f = 0; f < faceCount; f++)
        {
            var traits = Traits(random.Next(1 << 20) + (1 << 21));
            var c = ImageConditions.Sample(random, (float)_options.SceneOcclusionRate);
            float side = (float)(Math.Min(w, h) * (0.18 + 0.35 * random.NextDouble()));
            float x = (float)random.NextDouble() * (w - side), y = (float)random.NextDouble() * (h - side);
            var area = new SKRect(x, y, x + side, y + side);
            if (placed.Any(p => p.IntersectsWith(area))) continue; // keep faces apart so boxes stay unambiguous
            placed.Add(area);
            var placement = SKMatrix.CreateRotationDegrees(c.Roll * 1.5f, 56, 56).PostConcat(SKMatrix.CreateScaleTranslation(side / 112f, side / 112f, x, y));
            using var faceMask = new SKBitmap(new SKImageInfo(w, h, SKColorType.Gray8, SKAlphaType.Opaque));
            using var occluderMask = new SKBitmap(new SKImageInfo(w, h, SKColorType.Gray8, SKAlphaType.Opaque));
            using var faceCanvas = new SKCanvas(faceMask);
            using var occluderCanvas = new SKCanvas(occluderMask);
            faceCanvas.Clear(SKColors.Black);
            occluderCanvas.Clear(SKColors.Black);
            var (landmarks, box) = SyntheticFaceRenderer.Draw(canvas, faceCanvas, occluderCanvas, placement, traits, c);
            if (_options.SceneHeavyOcclusion) HideHalf(canvas, occluderCanvas, box, random);
            faceCanvas.Flush();
            occluderCanvas.Flush();
            var faceBytes = faceMask.GetPixelSpan();
            var occluderBytes = occluderMask.GetPixelSpan();
            int facePixels = 0, hidden = 0;
            for (int i = 0; i < map.Length; i++)
            {
                if (faceBytes[i] < 128) continue;
                facePixels++;
                if (occluderBytes[i] >= 128) { hidden++; map[i] = (byte)(faces.Count + 1); }
            }
            box.Intersect(new SKRect(0, 0, w, h));
            faces.Add(new SceneFace(box.Left, box.Top, box.Width, box.Height, landmarks, c.Occluder, facePixels == 0 ? 0 : hidden / (float)facePixels));
        }
        DrawLighting(canvas, w, h, sceneConditions);
        canvas.Flush();
        return new DetectionScene(Finish(bitmap, sceneConditions with { Blur = sceneConditions.Blur * 0.5f }, random), faces, map);
    }

    /// <summary>
    /// Writes the aligned recognition set: DIR/id_NNNNN/NNNN.png per image, and DIR/landmarks.txt with each image's
    /// five landmarks (relative path, then x1 y1 … x5 y5). The images reach the disk before landmarks.txt is written,
    /// flushed together at the end.
    /// </summary>
    public void WriteRecognitionSet(string directory, IProgress<int>? progress = null, int threads = 0)
    {
        Directory.CreateDirectory(directory);
        var lines = new string[_options.Identities * _options.ImagesPerIdentity];
        var paths = new string[lines.Length];
        int done = 0;
        Parallel.For(0, _options.Identities, new ParallelOptions { MaxDegreeOfParallelism = threads > 0 ? threads : Environment.ProcessorCount }, id =>
        {
            string folder = $"id_{id:D5}";
            Directory.CreateDirectory(Path.Combine(directory, folder));
            for (int k = 0; k < _options.ImagesPerIdentity; k++)
            {
                var (image, landmarks) = RenderAligned(id, k);
                string relative = $"{folder}/{k:D4}.png";
                int index = id * _options.ImagesPerIdentity + k;
                paths[index] = Path.Combine(directory, relative);
                ImageEncoder.Save(image, paths[index], flush: false);
                lines[index] = LandmarkLine(relative, landmarks);
                progress?.Report(Interlocked.Increment(ref done));
            }
        });
        AtomicFile.FlushToDisk(paths);
        AtomicFile.WriteAllText(Path.Combine(directory, "landmarks.txt"), string.Join('\n', lines) + "\n");
    }

    /// <summary>
    /// Writes <paramref name="count"/> scenes: DIR/images/scene_NNNNN.png, DIR/masks/scene_NNNNN.png (grey, value
    /// k + 1 on occluded pixels of face k), DIR/label.txt in the RetinaFace/WIDER layout ("# images/…" then
    /// "x y w h" and five "lx ly 0.0" triples and a confidence per face) and DIR/occlusion.txt (per face: image,
    /// face index, occluder, occluded fraction).
    /// </summary>
    public void WriteDetectionScenes(string directory, int count, IProgress<int>? progress = null, int threads = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        Directory.CreateDirectory(Path.Combine(directory, "images"));
        Directory.CreateDirectory(Path.Combine(directory, "masks"));
        var labels = new string[count];
        var occlusion = new string[count];
        int done = 0;
        Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = threads > 0 ? threads : Environment.ProcessorCount }, i =>
        {
            var scene = RenderScene(i);
            string name = $"scene_{i:D5}.png";
            ImageEncoder.Save(scene.Image, Path.Combine(directory, "images", name));
            var mask = new byte[scene.OcclusionMap.Length * 3];
            for (int p = 0; p < scene.OcclusionMap.Length; p++) mask[3 * p] = mask[3 * p + 1] = mask[3 * p + 2] = scene.OcclusionMap[p];
            ImageEncoder.Save(new RgbImage(scene.Image.Width, scene.Image.Height, mask), Path.Combine(directory, "masks", name));
            var label = new StringBuilder().Append("# images/").Append(name).Append('\n');
            var occ = new StringBuilder();
            for (int f = 0; f < scene.Faces.Count; f++)
            {
                var face = scene.Faces[f];
                label.Append(F(face.X)).Append(' ').Append(F(face.Y)).Append(' ').Append(F(face.Width)).Append(' ').Append(F(face.Height));
                var flat = face.Landmarks.ToFlat();
                for (int p = 0; p < 5; p++) label.Append(' ').Append(F(flat[2 * p])).Append(' ').Append(F(flat[2 * p + 1])).Append(" 0.0");
                label.Append(" 1.0\n");
                occ.Append("images/").Append(name).Append(' ').Append(f).Append(' ').Append(face.Occluder.ToString().ToLowerInvariant()).Append(' ').Append(face.OccludedFraction.ToString("0.000", CultureInfo.InvariantCulture)).Append('\n');
            }
            labels[i] = label.ToString();
            occlusion[i] = occ.ToString();
            progress?.Report(Interlocked.Increment(ref done));
        });
        AtomicFile.WriteAllText(Path.Combine(directory, "label.txt"), string.Concat(labels));
        AtomicFile.WriteAllText(Path.Combine(directory, "occlusion.txt"), string.Concat(occlusion));
    }

    private static string F(float v) => v.ToString("0.00", CultureInfo.InvariantCulture);

    private static string LandmarkLine(string relative, FaceLandmarks landmarks) =>
        relative + string.Concat(landmarks.ToFlat().Select(v => "\t" + F(v)));

    private static void DrawBackground(SKCanvas canvas, int w, int h, ImageConditions c, Random random, bool textured)
    {
        using var paint = new SKPaint { IsAntialias = true };
        using (var shader = SKShader.CreateLinearGradient(new SKPoint(0, 0), new SKPoint(w, h), [c.Background, c.Background2], SKShaderTileMode.Clamp))
        {
            paint.Shader = shader;
            canvas.DrawRect(0, 0, w, h, paint);
            paint.Shader = null;
        }
        int shapes = textured ? 40 + random.Next(40) : random.Next(4);
        for (int i = 0; i < shapes; i++)
        {
            paint.Color = new SKColor((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256), (byte)(60 + random.Next(150)));
            float x = random.Next(w), y = random.Next(h), s = 4 + random.Next(Math.Max(5, Math.Min(w, h) / 4));
            if (random.Next(2) == 0) canvas.DrawRect(x, y, s, s * (float)(0.3 + random.NextDouble()), paint);
            else canvas.DrawCircle(x, y, s / 2, paint);
        }
    }

    private static void DrawLighting(SKCanvas canvas, int w, int h, ImageConditions c)
    {
        if (c.LightStrength <= 0) return;
        var centre = new SKPoint(w / 2f, h / 2f);
        var direction = new SKPoint(MathF.Cos(c.LightAngle) * w / 2, MathF.Sin(c.LightAngle) * h / 2);
        using var shader = SKShader.CreateLinearGradient(centre - direction, centre + direction,
            [SKColors.Black.WithAlpha((byte)(255 * c.LightStrength)), SKColors.Transparent], SKShaderTileMode.Clamp);
        using var paint = new SKPaint { Shader = shader };
        canvas.DrawRect(0, 0, w, h, paint);
    }

    private static RgbImage Finish(SKBitmap bitmap, ImageConditions c, Random random)
    {
        RgbImage image;
        if (c.Blur > 0)
        {
            using var blurred = new SKBitmap(bitmap.Info);
            using (var canvas = new SKCanvas(blurred))
            using (var paint = new SKPaint { ImageFilter = SKImageFilter.CreateBlur(c.Blur, c.Blur, SKShaderTileMode.Clamp) })
            {
                canvas.DrawBitmap(bitmap, 0, 0, paint);
            }
            image = ImageEncoder.FromBitmap(blurred);
        }
        else
        {
            image = ImageEncoder.FromBitmap(bitmap);
        }
        var pixels = image.Pixels;
        for (int i = 0; i < pixels.Length; i++)
        {
            // Box-Muller needs two uniforms; a sum of two uniforms is a cheaper, adequate bell shape for sensor noise.
            double noise = (random.NextDouble() + random.NextDouble() - 1) * c.Noise * 1.7;
            pixels[i] = (byte)Math.Clamp(pixels[i] * c.Gain + noise, 0, 255);
        }
        return image;
    }

    private static SKMatrix ToMatrix(SimilarityTransform t) => new(t.A, -t.B, t.Tx, t.B, t.A, t.Ty, 0, 0, 1);
}
