using FaceForge.Formats.Pickle;

namespace FaceForge.Evaluation;

/// <summary>
/// An InsightFace verification set (.bin: a pickled tuple of a list of encoded images and a list of booleans, image
/// 2i and 2i+1 forming pair i). Pairs are split into 10 consecutive folds, as InsightFace's evaluation does. An image
/// the pickle stores once and repeats (through its memo) keeps its first index, so it is decoded and embedded once.
/// </summary>
public sealed class VerificationBin
{
    private VerificationBin(IReadOnlyList<byte[]> images, IReadOnlyList<VerificationPair> pairs)
    {
        Images = images;
        Pairs = pairs;
    }

    /// <summary>Encoded images.</summary>
    public IReadOnlyList<byte[]> Images { get; }

    /// <summary>Pairs; First and Second hold image indices as text (the first index of an image the pickle repeats).</summary>
    public IReadOnlyList<VerificationPair> Pairs { get; }

    /// <summary>Reads a .bin file.</summary>
    /// <exception cref="InvalidDataException">The file is not such a pickle; the message names the file.</exception>
    public static VerificationBin Read(string path, int folds = 10)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(folds, 2);
        using var stream = File.OpenRead(path);
        object? root = PickleReader.Read(stream, path);
        if (root is not object?[] { Length: 2 } tuple || tuple[0] is not List<object?> images || tuple[1] is not List<object?> same)
            throw new InvalidDataException($"{path}: expected a pickled (list of images, list of booleans) tuple.");
        var bytes = images.Select((x, i) => x switch
        {
            byte[] b => b,
            PickleCall { Callable.Name: "bytes" or "array" } call when call.Arguments.Length > 0 && call.Arguments[0] is byte[] b => b,
            _ => throw new InvalidDataException($"{path}: image {i} is not a byte string."),
        }).ToList();
        if (bytes.Count != 2 * same.Count)
            throw new InvalidDataException($"{path}: {bytes.Count} images for {same.Count} pairs; expected twice as many images as pairs.");
        if (same.Count < folds)
            throw new InvalidDataException($"{path}: {same.Count} pairs; {folds}-fold verification needs at least {folds}.");
        // A pickle may store one image once and refer to it many times (its memo): each such image is embedded once.
        var first = new Dictionary<byte[], int>(ReferenceEqualityComparer.Instance);
        string Key(int i) => first.TryAdd(bytes[i], i) ? Text(i) : Text(first[bytes[i]]);
        int perFold = same.Count / folds;
        var pairs = same.Select((s, i) => new VerificationPair(Key(2 * i), Key(2 * i + 1),
            s switch { bool b => b, long l => l != 0, _ => throw new InvalidDataException($"{path}: label {i} is not a boolean.") },
            Math.Min(i / perFold, folds - 1))).ToList();
        return new VerificationBin(bytes, pairs);
    }

    private static string Text(int i) => i.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
