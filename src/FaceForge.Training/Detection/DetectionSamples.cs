using FaceForge.Data;
using FaceForge.Detection;
using FaceForge.Imaging;

namespace FaceForge.Training.Detection;

/// <summary>One training image resized to the training size: BGR-minus-mean pixels, faces, occlusion cells.</summary>
/// <param name="Pixels">3 x H x W, BGR minus (104, 117, 123).</param>
/// <param name="Boxes">Per face l, t, r, b in pixels of the resized image.</param>
/// <param name="Landmarks">Per face 10 numbers, or null when not annotated.</param>
/// <param name="Occluded">Per pixel of the resized image: occluded face pixel, or null without a mask.</param>
internal sealed record DetectionSample(float[] Pixels, List<float[]> Boxes, List<float[]?> Landmarks, bool[]? Occluded);

/// <summary>
/// Detection training data: a RetinaFace/WIDER label.txt, the images it names and, optionally, occlusion masks (same
/// relative name under a masks folder, PNG, non-zero where a face is occluded, as <c>data synth --scenes</c> writes).
/// Each image is resized to the training size and flipped at random (landmarks swap sides).
/// </summary>
internal sealed class DetectionSamples
{
    private readonly List<(string Image, List<AnnotatedFace> Faces)> _entries;
    private readonly string _root;
    private readonly string? _masks;

    public DetectionSamples(string labels, string? imageRoot, string? maskRoot)
    {
        if (!File.Exists(labels)) throw new FileNotFoundException($"Annotations '{labels}' do not exist.", labels);
        _entries = FaceAnnotations.Read(labels).Where(e => e.Faces.Count > 0).ToList();
        if (_entries.Count == 0) throw new InvalidDataException($"{labels}: no image with a face.");
        _root = imageRoot ?? Path.GetDirectoryName(Path.GetFullPath(labels))!;
        _masks = maskRoot;
        foreach (var (image, faces) in _entries)
        {
            string path = Path.Combine(_root, image);
            if (!File.Exists(path)) throw new FileNotFoundException($"{labels}: image '{image}' is not under '{_root}'.");
            // A box partly outside the image is common (a face cut by the border) and is trained as given; one with
            // no pixel inside is a wrong label, or a label for another image.
            var (width, height) = ImageDecoder.Size(path);
            if (faces.FirstOrDefault(f => f.Box.Right <= 0 || f.Box.Bottom <= 0 || f.Box.Left >= width || f.Box.Top >= height) is { } outside)
                throw new InvalidDataException($"{labels}: image '{image}' ({width}x{height}) has a box that falls outside it: "
                    + $"x {outside.Box.Left:0.#} y {outside.Box.Top:0.#} w {outside.Box.Width:0.#} h {outside.Box.Height:0.#}.");
        }
    }

    public int Count => _entries.Count;

    public bool HasMasks => _masks is not null;

    /// <summary>Sample <paramref name="index"/> at <paramref name="width"/> x <paramref name="height"/>, mirrored when <paramref name="flip"/>.</summary>
    public DetectionSample Load(int index, int width, int height, bool flip)
    {
        var (name, faces) = _entries[index];
        var source = ImageDecoder.Decode(Path.Combine(_root, name));
        var image = source.Width == width && source.Height == height ? source : ImageResizer.Resize(source, width, height);
        float sx = (float)width / source.Width, sy = (float)height / source.Height;
        float X(float x) => flip ? width - x * sx : x * sx;
        var boxes = new List<float[]>();
        var marks = new List<float[]?>();
        foreach (var face in faces)
        {
            float l = X(face.Box.Left), r = X(face.Box.Right);
            boxes.Add([Math.Min(l, r), face.Box.Top * sy, Math.Max(l, r), face.Box.Bottom * sy]);
            if (face.Landmarks is not { } m) { marks.Add(null); continue; }
            var p = m.ToFlat();
            var scaled = new float[10];
            for (int k = 0; k < 5; k++) (scaled[2 * k], scaled[2 * k + 1]) = (X(p[2 * k]), p[2 * k + 1] * sy);
            // Mirrored, the left eye is the right one: swap eyes and mouth corners.
            if (flip) scaled = [scaled[2], scaled[3], scaled[0], scaled[1], scaled[4], scaled[5], scaled[8], scaled[9], scaled[6], scaled[7]];
            marks.Add(scaled);
        }
        var pixels = new float[3 * width * height];
        RetinaFaceDecoder.WriteInput(flip ? image.FlipHorizontal() : image, pixels);
        int plane = width * height;
        bool[]? occluded = null;
        if (_masks is not null)
        {
            string maskPath = OcclusionMaskFile.Find(_masks, name);
            var mask = ImageDecoder.Decode(maskPath);
            occluded = new bool[plane];
            var mp = mask.Pixels;
            for (int y = 0; y < height; y++)
                for (int x = 0; x < width; x++)
                {
                    int mx = Math.Min(mask.Width - 1, (int)((flip ? width - 1 - x : x) * mask.Width / (float)width));
                    int my = Math.Min(mask.Height - 1, (int)(y * mask.Height / (float)height));
                    occluded[y * width + x] = mp[3 * (my * mask.Width + mx)] > 0;
                }
        }
        return new DetectionSample(pixels, boxes, marks, occluded);
    }
}
