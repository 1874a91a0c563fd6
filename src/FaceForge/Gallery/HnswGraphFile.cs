using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using Cloud.Unum.USearch;

namespace FaceForge.Gallery;

/// <summary>
/// A gallery file's HNSW graph saved beside it (<c>GALLERY.hnsw</c> and its manifest <c>GALLERY.hnsw.json</c>), so
/// that the next process to search a large gallery loads the graph and adds only the faces enrolled since, instead of
/// rebuilding it (a 1M-face graph takes from minutes to a quarter of an hour on two cores). The manifest names the
/// gallery it was made for (its creation stamp), the graph's settings, the highest face id the graph holds, and the
/// graph file's length and SHA-256; the gallery itself records that hash when the graph is saved (its mark), so a
/// graph is loaded only for the very history it was saved from: not for a file created anew at the same path, nor
/// for a gallery restored from a backup (whose face ids may since have been given to other faces), nor when damaged
/// or replaced mid-save (the hash differs). Such a graph is never handed to USearch, which trusts what it reads.
/// </summary>
/// <remarks>
/// Each write goes to a temporary file renamed into place, the mark first, then the graph, then the manifest: a reader
/// sees an old pair, a new pair, or a mark and a pair whose hashes disagree (then it rebuilds); a gallery that cannot
/// record the mark keeps the graph it has. Saving is best effort: a folder that
/// cannot be written leaves the gallery working, with the graph rebuilt by the next process's first search.
/// </remarks>
/// <param name="Path">The graph file.</param>
/// <param name="StoreIdentity">What identifies the gallery (its creation stamp, or for benchmarks the synthetic data).</param>
/// <param name="ReadMark">The hash the gallery last recorded for its graph (null: none); null when the store keeps no mark.</param>
/// <param name="WriteMark">Records a saved graph's hash in the gallery; false when it could not (the graph is then not loadable).</param>
internal sealed record HnswGraphFile(string Path, string StoreIdentity, Func<string?>? ReadMark = null, Func<string, bool>? WriteMark = null)
{
    private const string Format = "faceforge-hnsw-graph";
    private const int Version = 1;

    private string ManifestPath => Path + ".json";

    /// <summary>The saved graph when it is whole and was made for this gallery with these settings, and the highest face id it held; else null.</summary>
    public HnswIndex? TryLoad(int dimensions, GalleryOpenOptions options, out long maxFaceId)
    {
        maxFaceId = 0;
        try
        {
            // Sizes come from stat, without opening: a FIFO or device at either path (size 0) would block an open or never end.
            var graphFile = new FileInfo(Path);
            if (!graphFile.Exists || !IsSmallFile(ManifestPath)) return null;
            var saved = JsonSerializer.Deserialize<Manifest>(File.ReadAllText(ManifestPath));
            if (saved is null || saved with { MaxFaceId = 0, Bytes = 0, Sha256 = "" } != Expected(dimensions, options)) return null;
            if (ReadMark is not null && ReadMark() != saved.Sha256) return null;
            if (graphFile.Length != saved.Bytes) return null;
            // Hash the bytes USearch will read: on Linux it loads this very open file (a rename meanwhile cannot swap it).
            using var stream = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.Read);
            if (stream.Length != saved.Bytes || Convert.ToHexString(SHA256.HashData(stream)) != saved.Sha256) return null;
            string source = OperatingSystem.IsLinux() ? $"/proc/self/fd/{stream.SafeFileHandle.DangerousGetHandle()}" : Path;
            maxFaceId = saved.MaxFaceId;
            return HnswIndex.Load(source, dimensions, options);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or USearchException)
        {
            return null;
        }
    }

    /// <summary>Saves <paramref name="index"/> (whose highest face id is <paramref name="maxFaceId"/>); true when it was written.</summary>
    public bool TrySave(HnswIndex index, int dimensions, GalleryOpenOptions options, long maxFaceId)
    {
        DeleteStaleTemporaries(TimeSpan.FromHours(1));
        string unique = Guid.NewGuid().ToString("N");
        string graph = $"{Path}.{unique}.saving", manifest = $"{ManifestPath}.{unique}.saving";
        try
        {
            index.Save(graph);
            string sha;
            long bytes;
            using (var stream = File.OpenRead(graph))
            {
                bytes = stream.Length;
                sha = Convert.ToHexString(SHA256.HashData(stream));
            }
            File.WriteAllText(manifest, JsonSerializer.Serialize(Expected(dimensions, options) with { MaxFaceId = maxFaceId, Bytes = bytes, Sha256 = sha }));
            // The mark first: a gallery that cannot record it (read-only, replaced) keeps its current graph and pair.
            if (WriteMark is not null && !WriteMark(sha)) return false;
            File.Move(graph, Path, overwrite: true);
            File.Move(manifest, ManifestPath, overwrite: true);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or USearchException)
        {
            return false;
        }
        finally
        {
            TryDelete(graph);
            TryDelete(manifest);
        }
    }

    /// <summary>
    /// Deletes temporary files of saves that never finished (a process killed mid-save) older than
    /// <paramref name="age"/>: younger ones may be another process's save in progress.
    /// </summary>
    public void DeleteStaleTemporaries(TimeSpan age)
    {
        try
        {
            string folder = System.IO.Path.GetDirectoryName(Path)!, name = System.IO.Path.GetFileName(Path);
            foreach (string file in Directory.EnumerateFiles(folder, name + ".*.saving"))
                if (IsOwnTemporary(System.IO.Path.GetFileName(file), name) && DateTime.UtcNow - File.GetLastWriteTimeUtc(file) >= age) TryDelete(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    /// <summary>True for the names <see cref="TrySave"/> gives its temporaries: GRAPH.{guid}.saving and GRAPH.json.{guid}.saving.</summary>
    internal static bool IsOwnTemporary(string fileName, string graphName)
    {
        foreach (string prefix in new[] { graphName + ".", graphName + ".json." })
            if (fileName.Length == prefix.Length + 32 + ".saving".Length && fileName.StartsWith(prefix, StringComparison.Ordinal)
                && fileName.EndsWith(".saving", StringComparison.Ordinal) && fileName.AsSpan(prefix.Length, 32).ContainsAnyExcept("0123456789abcdef") is false)
                return true;
        return false;
    }

    /// <summary>
    /// True when <see cref="Path"/> does not exist or is a graph this class saved (its manifest beside it names our
    /// format): what may be overwritten. Anything else at that path is a user's file, never to be replaced.
    /// </summary>
    public bool MayWrite()
    {
        if (!File.Exists(Path) && !Directory.Exists(Path)) return !File.Exists(ManifestPath) || IsManifest(ManifestPath);
        return File.Exists(Path) && IsManifest(ManifestPath);
    }

    private static bool IsManifest(string path)
    {
        try { return IsSmallFile(path) && JsonSerializer.Deserialize<Manifest>(File.ReadAllText(path))?.Format == Format; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException) { return false; }
    }

    /// <summary>
    /// A file of 1 byte to 1 MiB, judged by its size alone: what a manifest can be. A FIFO or a device reports size 0,
    /// so it is never opened (opening a FIFO blocks until a writer comes).
    /// </summary>
    private static bool IsSmallFile(string path) => new FileInfo(path) is { Exists: true, Length: > 0 and <= 1 << 20 };

    private static void TryDelete(string path)
    {
        try { File.Delete(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    private Manifest Expected(int dimensions, GalleryOpenOptions options) => new(Format, Version, StoreIdentity, dimensions,
        options.HnswVectors.ToString().ToLowerInvariant(), options.HnswConnectivity, options.HnswExpansionAdd, 0, 0, "");

    private sealed record Manifest(
        [property: JsonPropertyName("format")] string Format,
        [property: JsonPropertyName("version")] int Version,
        [property: JsonPropertyName("gallery")] string Gallery,
        [property: JsonPropertyName("dimensions")] int Dimensions,
        [property: JsonPropertyName("vectors")] string Vectors,
        [property: JsonPropertyName("connectivity")] int Connectivity,
        [property: JsonPropertyName("expansion_add")] int ExpansionAdd,
        [property: JsonPropertyName("max_face_id")] long MaxFaceId,
        [property: JsonPropertyName("bytes")] long Bytes,
        [property: JsonPropertyName("sha256")] string Sha256);
}
