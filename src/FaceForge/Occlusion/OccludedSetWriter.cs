using System.Globalization;
using System.Text;
using System.Text.Json;
using FaceForge.Alignment;
using FaceForge.Detection;
using FaceForge.Imaging;
using FaceForge.Randomness;

namespace FaceForge.Occlusion;

/// <summary>What <see cref="OccludedSetWriter.Write"/> wrote.</summary>
/// <param name="Out">The output folder.</param>
/// <param name="SourceImages">Source images read (with a face or not).</param>
/// <param name="SkippedNoFace">Source images left out because the detector found no face on them.</param>
/// <param name="Images">Images written.</param>
/// <param name="Faces">Labelled faces in them.</param>
/// <param name="OccludedFaces">Labelled faces with an occluder painted on them.</param>
/// <param name="Occluders">Occluders painted, by kind name (mask overlays as mask:NAME).</param>
public sealed record OccludedSetReport(string Out, int SourceImages, int SkippedNoFace, int Images, int Faces, int OccludedFaces, IReadOnlyDictionary<string, int> Occluders);

/// <summary>
/// Writes a detection training or test set from pseudo-labelled real faces with occluders painted by their
/// landmarks: images, <c>label.txt</c> (RetinaFace/WIDER layout; boxes and landmarks are those of the clean image),
/// <c>masks/NAME.png</c> (non-zero where a face pixel is hidden; what the segmentation branch learns),
/// <c>pseudo-labels.txt</c> (the clean sources' labels), <c>skipped.txt</c>, <c>dataset.json</c> and, given reference
/// landmarks, <c>landmarks.txt</c> for the images written that have one.
/// </summary>
/// <remarks>Deterministic for a seed (each image draws from its own seeded generator); images are written in parallel.</remarks>
public static class OccludedSetWriter
{
    private sealed record Written(string Name, List<(FaceBox Box, FaceLandmarks? Landmarks)> Faces, int Occluded, List<string> Kinds);

    /// <summary>Writes the set into <paramref name="outDir"/> (created; existing files of the same names are replaced).</summary>
    /// <exception cref="ArgumentException">Bad options, or two sources share a file name (their masks would collide).</exception>
    public static OccludedSetReport Write(PseudoLabels labels, string root, string outDir, OccludedSetOptions options,
        IReadOnlyDictionary<string, FaceLandmarks>? reference = null, IProgress<int>? progress = null)
    {
        options.Validate();
        if (reference is not null && options.Composites > 0) throw new ArgumentException("Reference landmarks name source images; composites are new images, so they cannot carry them.", nameof(reference));
        if (labels.Images.Count == 0) throw new ArgumentException($"No source image with a face ({labels.Skipped.Count} without one).", nameof(labels));
        if (options.Composites == 0 && labels.Images.GroupBy(i => Path.GetFileNameWithoutExtension(i.Image), StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1) is { } twin)
            throw new ArgumentException($"Source images '{string.Join("', '", twin.Select(i => i.Image))}' share a file name; their occlusion masks would collide in masks/.");
        Directory.CreateDirectory(Path.Combine(outDir, "masks"));
        int count = options.Composites > 0 ? options.Composites : labels.Images.Count;
        var written = new Written[count];
        int done = 0;
        Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, i =>
        {
            var random = new Random(SeedMixer.Mix(options.Seed, i, 0x0CC1));
            written[i] = options.Composites > 0 ? Composite(labels, root, outDir, options, i, random) : Single(labels.Images[i], root, outDir, options, random);
            progress?.Report(Interlocked.Increment(ref done));
        });
        AtomicFile.WriteAllText(Path.Combine(outDir, "label.txt"), LabelText(written.Select(w => (w.Name, w.Faces))));
        AtomicFile.WriteAllText(Path.Combine(outDir, "pseudo-labels.txt"),
            LabelText(labels.Images.Select(i => (i.Image, i.Faces.Select(f => (f.Box, f.Landmarks)).ToList()))));
        AtomicFile.WriteAllText(Path.Combine(outDir, "skipped.txt"), string.Concat(labels.Skipped.Select(s => ListingField.Escape(s) + "\n")));
        if (reference is not null)
            AtomicFile.WriteAllText(Path.Combine(outDir, "landmarks.txt"), string.Concat(written.Where(w => reference.ContainsKey(w.Name)).Select(w =>
                w.Name + "\t" + string.Join('\t', reference[w.Name].ToFlat().Select(v => v.ToString("0.00", CultureInfo.InvariantCulture))) + "\n")));
        var kinds = written.SelectMany(w => w.Kinds).GroupBy(k => k).OrderBy(g => g.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count());
        var report = new OccludedSetReport(outDir, labels.Images.Count + labels.Skipped.Count, labels.Skipped.Count, count, written.Sum(w => w.Faces.Count), written.Sum(w => w.Occluded), kinds);
        AtomicFile.WriteAllText(Path.Combine(outDir, "dataset.json"), JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["labels"] = $"pseudo-labels: boxes and landmarks found by detector '{labels.Detector}' on the clean images, not human annotations",
            ["detector"] = labels.Detector,
            ["occluders_drawn_from"] = options.Kinds.Select(OcclusionKinds.Name).ToArray(),
            ["overlays"] = options.Overlays.Select(o => Path.GetFileNameWithoutExtension(o.Name)).ToArray(),
            ["occlusion_rate"] = options.OcclusionRate,
            ["composites"] = options.Composites,
            ["seed"] = options.Seed,
            ["source_images"] = report.SourceImages,
            ["skipped_no_face"] = report.SkippedNoFace,
            ["images"] = report.Images,
            ["faces"] = report.Faces,
            ["occluded_faces"] = report.OccludedFaces,
            ["occluders"] = kinds,
        }, new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));
        return report;
    }

    /// <summary>One source image as it is, with occluders, under its own relative path.</summary>
    private static Written Single(PseudoLabelledImage source, string root, string outDir, OccludedSetOptions options, Random random)
    {
        var image = ImageDecoder.Decode(Path.Combine(root, source.Image));
        var occluded = new bool[image.Width * image.Height];
        var painted = PaintFaces(image, occluded, source.Faces, options, random);
        string target = Path.Combine(outDir, source.Image);
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        AtomicFile.WriteAllBytes(target, Encode(image, source.Image));
        WriteMask(outDir, source.Image, occluded, image.Width, image.Height);
        return new Written(source.Image, source.Faces.Select(f => (f.Box, f.Landmarks)).ToList(), painted.Count(p => p is not null), painted.OfType<string>().ToList());
    }

    /// <summary>A grid of random crops of random sources, each with its own occluders, scale and lighting.</summary>
    private static Written Composite(PseudoLabels labels, string root, string outDir, OccludedSetOptions options, int index, Random random)
    {
        int width = options.Width, height = options.Height;
        int grid = random.NextDouble() switch { < 0.3 => 1, < 0.75 => 2, _ => 3 };
        int[] xs = Edges(width, grid, random), ys = Edges(height, grid, random);
        var canvas = new RgbImage(width, height);
        var occluded = new bool[width * height];
        var faces = new List<(FaceBox, FaceLandmarks?)>();
        var kinds = new List<string>();
        int occludedFaces = 0;
        for (int row = 0; row < grid; row++)
            for (int col = 0; col < grid; col++)
            {
                var cell = (X: xs[col], Y: ys[row], W: xs[col + 1] - xs[col], H: ys[row + 1] - ys[row]);
                var source = labels.Images[random.Next(labels.Images.Count)];
                var image = ImageDecoder.Decode(Path.Combine(root, source.Image));
                var hidden = new bool[image.Width * image.Height];
                var painted = PaintFaces(image, hidden, source.Faces, options, random);
                // A window of the cell's shape, 50-100 % of the largest that fits, placed around the main face.
                float aspect = cell.W / (float)cell.H;
                float windowW = Math.Min(image.Width, image.Height * aspect) * (0.5f + 0.5f * random.NextSingle()), windowH = windowW / aspect;
                var subject = IFaceDetector.NearestCentre(source.Faces, image.Width, image.Height)!.Box.Centre;
                float x0 = Math.Clamp(subject.X - windowW * (0.25f + 0.5f * random.NextSingle()), 0, Math.Max(0, image.Width - windowW));
                float y0 = Math.Clamp(subject.Y - windowH * (0.25f + 0.5f * random.NextSingle()), 0, Math.Max(0, image.Height - windowH));
                float scale = cell.W / windowW;
                Resample(image, hidden, x0, y0, 1 / scale, canvas, occluded, cell, Lighting(random));
                for (int f = 0; f < source.Faces.Count; f++)
                {
                    var face = source.Faces[f];
                    var box = new FaceBox((face.Box.Left - x0) * scale + cell.X, (face.Box.Top - y0) * scale + cell.Y, (face.Box.Right - x0) * scale + cell.X, (face.Box.Bottom - y0) * scale + cell.Y);
                    var clipped = new FaceBox(Math.Max(box.Left, cell.X), Math.Max(box.Top, cell.Y), Math.Min(box.Right, cell.X + cell.W), Math.Min(box.Bottom, cell.Y + cell.H));
                    // Keep faces mostly inside the cell and large enough for the smallest anchors.
                    if (clipped.Area < 0.6f * box.Area || Math.Min(clipped.Width, clipped.Height) < 8) continue;
                    if (painted[f] is { } kind) { occludedFaces++; kinds.Add(kind); }
                    var marks = face.Landmarks!.Value.Select(p => new System.Numerics.Vector2((p.X - x0) * scale + cell.X, (p.Y - y0) * scale + cell.Y));
                    bool inside = marks.ToArray().All(p => p.X >= cell.X && p.X < cell.X + cell.W && p.Y >= cell.Y && p.Y < cell.Y + cell.H);
                    faces.Add((clipped, inside ? marks : null));
                }
            }
        string name = $"{index + 1:D6}.jpg";
        AtomicFile.WriteAllBytes(Path.Combine(outDir, name), ImageEncoder.EncodeJpeg(canvas, 92));
        WriteMask(outDir, name, occluded, width, height);
        return new Written(name, faces, occludedFaces, kinds);
    }

    /// <summary>Paints an occluder on each face with the options' rate; returns, per face, the occluder's name or null.</summary>
    private static string?[] PaintFaces(RgbImage image, bool[] occluded, IReadOnlyList<DetectedFace> faces, OccludedSetOptions options, Random random)
    {
        var painted = new string?[faces.Count];
        if (options.Kinds.Count == 0) return painted;
        for (int f = 0; f < faces.Count; f++)
        {
            var face = faces[f];
            if (random.NextDouble() >= options.OcclusionRate) continue;
            var kind = options.Kinds[random.Next(options.Kinds.Count)];
            var overlay = kind == OcclusionKind.Mask ? options.Overlays[random.Next(options.Overlays.Count)] : null;
            OccluderPainter.Paint(image, occluded, face.Box, face.Landmarks!.Value, kind, overlay, random);
            painted[f] = overlay is null ? OcclusionKinds.Name(kind) : $"mask:{Path.GetFileNameWithoutExtension(overlay.Name)}";
        }
        return painted;
    }

    /// <summary>Cell edges along a side: equal parts with their inner edges moved by up to 12 % of a part.</summary>
    private static int[] Edges(int length, int parts, Random random)
    {
        var edges = new int[parts + 1];
        for (int k = 0; k <= parts; k++)
            edges[k] = k == 0 ? 0 : k == parts ? length : (int)Math.Round(length * (k + 0.24 * (random.NextDouble() - 0.5)) / parts);
        return edges;
    }

    /// <summary>A random brightness, contrast, gamma and colour cast (sometimes grey), as a byte lookup per channel.</summary>
    private static byte[][] Lighting(Random random)
    {
        double gain = 0.55 + 0.8 * random.NextDouble(), contrast = 0.7 + 0.55 * random.NextDouble(), gamma = 0.7 + 0.7 * random.NextDouble();
        bool grey = random.NextDouble() < 0.1;
        var tables = new byte[grey ? 4 : 3][];
        double common = 0.9 + 0.2 * random.NextDouble();
        for (int c = 0; c < 3; c++)
        {
            // A grey cell keeps one curve for all channels, or the cast would tint it again.
            double cast = grey ? common : 0.9 + 0.2 * random.NextDouble();
            tables[c] = new byte[256];
            for (int v = 0; v < 256; v++)
                tables[c][v] = (byte)Math.Clamp(((255 * Math.Pow(v / 255.0, gamma) - 128) * contrast + 128) * gain * cast + 0.5, 0, 255);
        }
        if (grey) tables[3] = [];
        return tables;
    }

    /// <summary>
    /// Fills <paramref name="cell"/> of the canvas from the source window at (<paramref name="x0"/>, <paramref name="y0"/>)
    /// with <paramref name="step"/> source pixels per canvas pixel (averaging sub-samples when shrinking), through
    /// the lighting tables; the occlusion map follows by nearest sample.
    /// </summary>
    private static void Resample(RgbImage source, bool[] hidden, float x0, float y0, float step, RgbImage canvas, bool[] occluded, (int X, int Y, int W, int H) cell, byte[][] light)
    {
        int n = Math.Max(1, (int)MathF.Ceiling(step));
        var src = source.Pixels;
        var dst = canvas.Pixels;
        Span<float> sum = stackalloc float[3];
        for (int y = 0; y < cell.H; y++)
            for (int x = 0; x < cell.W; x++)
            {
                sum.Clear();
                for (int sy = 0; sy < n; sy++)
                    for (int sx = 0; sx < n; sx++)
                    {
                        float fx = Math.Clamp(x0 + (x + (sx + 0.5f) / n) * step - 0.5f, 0, source.Width - 1), fy = Math.Clamp(y0 + (y + (sy + 0.5f) / n) * step - 0.5f, 0, source.Height - 1);
                        int ix = (int)fx, iy = (int)fy, jx = Math.Min(ix + 1, source.Width - 1), jy = Math.Min(iy + 1, source.Height - 1);
                        float wx = fx - ix, wy = fy - iy;
                        for (int c = 0; c < 3; c++)
                            sum[c] += (src[3 * (iy * source.Width + ix) + c] * (1 - wx) + src[3 * (iy * source.Width + jx) + c] * wx) * (1 - wy)
                                + (src[3 * (jy * source.Width + ix) + c] * (1 - wx) + src[3 * (jy * source.Width + jx) + c] * wx) * wy;
                    }
                int o = (cell.Y + y) * canvas.Width + cell.X + x;
                Span<byte> rgb = [(byte)(sum[0] / (n * n) + 0.5f), (byte)(sum[1] / (n * n) + 0.5f), (byte)(sum[2] / (n * n) + 0.5f)];
                if (light.Length == 4) rgb[0] = rgb[1] = rgb[2] = (byte)((299 * rgb[0] + 587 * rgb[1] + 114 * rgb[2]) / 1000);
                for (int c = 0; c < 3; c++) dst[3 * o + c] = light[c][rgb[c]];
                int hx = Math.Clamp((int)(x0 + (x + 0.5f) * step), 0, source.Width - 1), hy = Math.Clamp((int)(y0 + (y + 0.5f) * step), 0, source.Height - 1);
                occluded[o] = hidden[hy * source.Width + hx];
            }
    }

    private static byte[] Encode(RgbImage image, string name) =>
        Path.GetExtension(name).ToLowerInvariant() is ".png" ? ImageEncoder.EncodePng(image) : ImageEncoder.EncodeJpeg(image, 95);

    private static void WriteMask(string outDir, string imageName, bool[] occluded, int width, int height)
    {
        var mask = new byte[width * height * 3];
        for (int p = 0; p < occluded.Length; p++)
            if (occluded[p]) mask[3 * p] = mask[3 * p + 1] = mask[3 * p + 2] = 255;
        AtomicFile.WriteAllBytes(Path.Combine(outDir, "masks", Path.GetFileNameWithoutExtension(imageName) + ".png"), ImageEncoder.EncodePng(new RgbImage(width, height, mask)));
    }

    /// <summary>RetinaFace/WIDER label text: <c># image</c>, then <c>x y w h</c> and five <c>x y 0.0</c> landmark triples (or -1) per face.</summary>
    private static string LabelText(IEnumerable<(string Image, List<(FaceBox Box, FaceLandmarks? Landmarks)> Faces)> images)
    {
        var text = new StringBuilder();
        static string F(float v) => v.ToString("0.##", CultureInfo.InvariantCulture);
        foreach (var (image, faces) in images)
        {
            text.Append("# ").Append(image).Append('\n');
            foreach (var (box, landmarks) in faces)
            {
                text.Append($"{F(box.Left)} {F(box.Top)} {F(box.Width)} {F(box.Height)}");
                if (landmarks is { } m)
                {
                    var xy = m.ToFlat();
                    for (int k = 0; k < 5; k++) text.Append($" {F(xy[2 * k])} {F(xy[2 * k + 1])} 0.0");
                    text.Append(" 1.0");
                }
                else text.Append(" -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1");
                text.Append('\n');
            }
        }
        return text.ToString();
    }
}
