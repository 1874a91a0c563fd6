using System.Text.Json;

namespace FaceForge.Data;

/// <summary>
/// Images in one sub-folder per identity (any supported format). Identities are the sub-folders in ordinal name
/// order. The file list is cached (see <see cref="ImageFolderIndex"/>) so a large folder is not re-scanned each run.
/// </summary>
/// <remarks>Thread-safe for reading.</remarks>
public sealed class ImageFolderDataset : IFaceDataset
{
    /// <summary>File extensions treated as images (lower case, with the dot).</summary>
    public static IReadOnlySet<string> ImageExtensions { get; } =
        new HashSet<string>(StringComparer.OrdinalIgnoreCase) { ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".bmp", ".gif", ".webp", ".pgm", ".ppm", ".pnm" };

    /// <summary>Extensions of photo formats FaceForge does not decode (phone, scanner and camera formats): a folder holding them is told so, not silently passed over.</summary>
    public static IReadOnlySet<string> UnreadImageExtensions { get; } =
        new HashSet<string>(StringComparer.OrdinalIgnoreCase) { ".heic", ".heif", ".avif", ".tif", ".tiff", ".jxl", ".jp2", ".j2k", ".psd", ".dng", ".cr2", ".nef", ".arw" };

    private readonly ImageFolderIndex _index;

    private ImageFolderDataset(string root, ImageFolderIndex index)
    {
        Root = root;
        _index = index;
    }

    /// <summary>The dataset folder.</summary>
    public string Root { get; }

    /// <inheritdoc/>
    public int Count => _index.Files.Count;

    /// <inheritdoc/>
    public int IdentityCount => _index.Identities.Count;

    /// <inheritdoc/>
    public string Format => "folder";

    /// <summary>Identity names (the sub-folder names), by label.</summary>
    public IReadOnlyList<string> IdentityNames => _index.Identities;

    /// <summary>What was skipped (only with skipEmpty): empty identity folders, folders this user may not list, and folders or files ("folder/file") whose names are not valid UTF-8.</summary>
    public IReadOnlyList<string> SkippedFolders => _index.Skipped;

    /// <summary>Opens <paramref name="root"/>, using or refreshing the cached index.</summary>
    /// <param name="root">The folder holding one sub-folder per identity.</param>
    /// <param name="skipEmpty">Skip identity folders without images instead of failing.</param>
    /// <param name="cacheDirectory">Where the index cache lives; the default is <see cref="ImageFolderIndex.DefaultCacheDirectory"/>.</param>
    /// <exception cref="InvalidDataException">The folder has no identities, or an identity folder is empty (unless skipped).</exception>
    public static ImageFolderDataset Open(string root, bool skipEmpty = false, string? cacheDirectory = null)
    {
        if (!Directory.Exists(root))
            throw new DirectoryNotFoundException($"Image folder '{root}' does not exist.");
        return new ImageFolderDataset(root, ImageFolderIndex.Load(Path.GetFullPath(root), skipEmpty, cacheDirectory));
    }

    /// <inheritdoc/>
    public int GetLabel(int index) => _index.Labels[index];

    /// <inheritdoc/>
    public byte[] ReadEncoded(int index)
    {
        string path = Path.Combine(Root, _index.Files[index]);
        Imaging.ImageDecoder.RequireContent(path); // a pipe named like an image would block the read for ever
        return File.ReadAllBytes(path);
    }

    /// <inheritdoc/>
    public string Describe(int index) => Path.Combine(Root, _index.Files[index]);

    /// <summary>Path of image <paramref name="index"/> relative to the root, with '/' separators.</summary>
    public string RelativePath(int index) => _index.Files[index];

    /// <summary>
    /// Files under the root that look like photos but are not in the set, each with the reason: images at the root or
    /// in sub-folders of an identity folder (only those directly in an identity folder are read), and photos in
    /// formats FaceForge does not decode. Walks the whole tree on each call (the cached index does not), skipping what
    /// the set skips (hidden names, __MACOSX), folders it may not read, and linked folders (a link may loop); in name order.
    /// </summary>
    public IReadOnlyList<(string Path, string Reason)> FindUnread()
    {
        static bool Candidate(ReadOnlySpan<char> name)
        {
            string extension = Path.GetExtension(name.ToString());
            return ImageExtensions.Contains(extension) || UnreadImageExtensions.Contains(extension);
        }
        var files = new System.IO.Enumeration.FileSystemEnumerable<string>(Root, (ref System.IO.Enumeration.FileSystemEntry e) => e.ToFullPath(),
            new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = 0 })
        {
            ShouldIncludePredicate = (ref System.IO.Enumeration.FileSystemEntry e) => !e.IsDirectory && !ImageFolderIndex.Hidden(e.FileName.ToString()) && Candidate(e.FileName),
            ShouldRecursePredicate = (ref System.IO.Enumeration.FileSystemEntry e) => !ImageFolderIndex.Hidden(e.FileName.ToString()) && (e.Attributes & FileAttributes.ReparsePoint) == 0,
        };
        var unread = new List<(string, string)>();
        foreach (string file in files)
        {
            int depth = Path.GetRelativePath(Root, file).Split(Path.DirectorySeparatorChar).Length;
            string where = depth == 1 ? "at the root, not in an identity folder" : "in a sub-folder of an identity folder (sub-folders are not read)";
            string extension = Path.GetExtension(file);
            if (UnreadImageExtensions.Contains(extension))
                unread.Add((file, $"{extension.TrimStart('.').ToUpperInvariant()} images are not read by FaceForge; convert it to JPEG or PNG" + (depth == 2 ? "" : $", and move it: it is {where}")));
            else if (depth != 2)
                unread.Add((file, where));
        }
        unread.Sort((a, b) => string.CompareOrdinal(a.Item1, b.Item1));
        return unread;
    }

    /// <inheritdoc/>
    public void Dispose() { }
}

/// <summary>
/// The cached file list of an <see cref="ImageFolderDataset"/>. It is valid while the modification times of the
/// root and of every sub-folder (skipped ones included) are unchanged (adding, removing or renaming a file changes its folder's time),
/// which costs one stat per identity instead of listing every file.
/// </summary>
public sealed class ImageFolderIndex
{
    /// <summary>Identity folder names, by label.</summary>
    public required List<string> Identities { get; init; }

    /// <summary>Relative file paths ('/' separators).</summary>
    public required List<string> Files { get; init; }

    /// <summary>Label of each file.</summary>
    public required List<int> Labels { get; init; }

    /// <summary>Folders skipped for having no images, and folders or files ("folder/file") whose names are not valid UTF-8.</summary>
    public required List<string> Skipped { get; init; }

    /// <summary>Modification time (UTC ticks) of the root and of every sub-folder (identities and skipped ones, ordinal name order), root first.</summary>
    public required List<long> FolderTimes { get; init; }

    /// <summary>The scanning rules this index was built by (<see cref="CurrentVersion"/>; older caches are rebuilt).</summary>
    public int Version { get; init; }

    /// <summary>Version 2 leaves hidden files and folders out; version 3 reads .jpe and .jfif; version 4 refuses a link to the root.</summary>
    internal const int CurrentVersion = 4;

    /// <summary>A folder could not be listed (permission denied): such an index is not cached, since granting the permission does not change the folder's time.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    internal bool Unlisted { get; set; }

    /// <summary>Whether empty folders were skipped when this index was built.</summary>
    public bool SkipEmpty { get; init; }

    /// <summary>$XDG_CACHE_HOME/faceforge/index, or ~/.cache/faceforge/index.</summary>
    public static string DefaultCacheDirectory => UserCache.Folder("index");

    internal static ImageFolderIndex Load(string root, bool skipEmpty, string? cacheDirectory)
    {
        string cacheFile = Path.Combine(cacheDirectory ?? DefaultCacheDirectory, CacheKey(root) + ".json");
        if (TryReadCache(cacheFile) is { } cached && cached.SkipEmpty == skipEmpty && IsCurrent(root, cached))
            return cached;
        var index = Scan(root, skipEmpty);
        if (index.Unlisted) return index;
        try
        {
            AtomicFile.WriteAllText(cacheFile, JsonSerializer.Serialize(index));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A read-only home only costs a re-scan next time.
        }
        return index;
    }

    private static ImageFolderIndex? TryReadCache(string cacheFile)
    {
        try
        {
            var cached = File.Exists(cacheFile) ? JsonSerializer.Deserialize<ImageFolderIndex>(File.ReadAllText(cacheFile)) : null;
            return cached?.Version == CurrentVersion ? cached : null;
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static bool IsCurrent(string root, ImageFolderIndex index)
    {
        // Skipped folders count too: an empty folder that gains images must not stay skipped.
        var folders = SubFolders(root);
        var known = index.Identities.Concat(index.Skipped.Where(s => !s.Contains('/'))).Order(StringComparer.Ordinal);
        if (!folders.SequenceEqual(known, StringComparer.Ordinal) || index.FolderTimes.Count != folders.Count + 1) return false;
        if (Directory.GetLastWriteTimeUtc(root).Ticks != index.FolderTimes[0]) return false;
        for (int i = 0; i < folders.Count; i++)
            if (Directory.GetLastWriteTimeUtc(Path.Combine(root, folders[i])).Ticks != index.FolderTimes[i + 1]) return false;
        return true;
    }

    private static List<string> SubFolders(string root) =>
        Directory.GetDirectories(root).Select(Path.GetFileName).OfType<string>().Where(name => !Hidden(name)).Order(StringComparer.Ordinal).ToList();

    /// <summary>
    /// Names a data set never means: hidden files and folders (".git", macOS's "._photo.jpg" AppleDouble companions,
    /// which carry an image extension but hold resource forks) and the "__MACOSX" folder of zips made on a Mac.
    /// </summary>
    internal static bool Hidden(string name) => name.StartsWith('.') || name == "__MACOSX";

    private static ImageFolderIndex Scan(string root, bool skipEmpty)
    {
        var index = new ImageFolderIndex { Version = CurrentVersion, Identities = [], Files = [], Labels = [], Skipped = [], FolderTimes = [Directory.GetLastWriteTimeUtc(root).Ticks], SkipEmpty = skipEmpty };
        foreach (string name in SubFolders(root))
        {
            string folder = Path.Combine(root, name);
            index.FolderTimes.Add(Directory.GetLastWriteTimeUtc(folder).Ticks);
            // .NET decodes a name that is not valid UTF-8 with U+FFFD and then cannot open it: an error naming it, or
            // (skipEmpty, the skip_bad setting) skipped and listed in Skipped like an empty folder.
            if (name.Contains('\uFFFD'))
            {
                if (!skipEmpty)
                    throw new InvalidDataException($"{folder}: the folder's name is not valid UTF-8, so .NET cannot open it; rename it, or skip it (skip_bad).");
                index.Skipped.Add(name);
                continue;
            }
            // A link to the set's own folder (or one above it) would make an identity of the photos at the root, which
            // are not an identity's (and are named as not read): an error naming it, or (skip_bad) skipped.
            if (LinksToItsRoot(folder, root))
            {
                if (!skipEmpty)
                    throw new InvalidDataException($"{folder}: a link to the data set's own folder or one above it, not an identity folder; remove it, or skip it (skip_bad).");
                index.Skipped.Add(name);
                continue;
            }
            List<string> all;
            try
            {
                all = Directory.EnumerateFiles(folder)
                    .Where(f => ImageFolderDataset.ImageExtensions.Contains(Path.GetExtension(f)))
                    .Select(Path.GetFileName).OfType<string>().Where(f => !Hidden(f)).Order(StringComparer.Ordinal).ToList();
            }
            catch (UnauthorizedAccessException)
            {
                // A folder this user may not list: an error naming it, or (skip_bad) skipped like an empty one.
                if (!skipEmpty)
                    throw new InvalidDataException($"{folder}: permission denied, so its images cannot be listed; allow reading it, or skip it (skip_bad).");
                index.Skipped.Add(name);
                index.Unlisted = true;
                continue;
            }
            var unreadable = all.Where(f => f.Contains('\uFFFD')).ToList();
            if (unreadable.Count > 0 && !skipEmpty)
                throw new InvalidDataException($"{folder}: {unreadable.Count} image name(s) are not valid UTF-8, so .NET cannot open them; rename them, or skip them (skip_bad).");
            index.Skipped.AddRange(unreadable.Select(f => name + "/" + f));
            var files = all.Except(unreadable).ToList();
            if (files.Count == 0)
            {
                if (!skipEmpty)
                    throw new InvalidDataException($"{folder}: identity folder has no images (supported: {string.Join(" ", ImageFolderDataset.ImageExtensions)}); remove it, or skip empty folders and unreadable images (skip_bad).");
                index.Skipped.Add(name);
                continue;
            }
            int label = index.Identities.Count;
            index.Identities.Add(name);
            foreach (string file in files)
            {
                index.Files.Add(name + "/" + file);
                index.Labels.Add(label);
            }
        }
        if (index.Identities.Count == 0)
            throw new InvalidDataException($"{root}: no identity sub-folders with images found.");
        return index;
    }

    private static bool LinksToItsRoot(string folder, string root)
    {
        if (new DirectoryInfo(folder).LinkTarget is null || Directory.ResolveLinkTarget(folder, returnFinalTarget: true) is not { } target) return false;
        string targetPath = Path.TrimEndingDirectorySeparator(Path.GetFullPath(target.FullName));
        // The root as given and, where it is itself a link, as it resolves: a link may name either.
        var roots = new[] { root, Directory.ResolveLinkTarget(root, returnFinalTarget: true)?.FullName }.OfType<string>()
            .Select(r => Path.TrimEndingDirectorySeparator(Path.GetFullPath(r)));
        return roots.Any(r => r == targetPath || r.StartsWith(Path.TrimEndingDirectorySeparator(targetPath) + Path.DirectorySeparatorChar, StringComparison.Ordinal) || targetPath == "/");
    }

    private static string CacheKey(string root) =>
        Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(root)))[..24].ToLowerInvariant();
}
