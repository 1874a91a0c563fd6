using Cloud.Unum.USearch;
using System.Numerics.Tensors;
using System.Text.Json;

namespace FaceForge.Gallery;

/// <summary>
/// A face gallery: subjects with one or more templates (faces) of one recognition model, searched by cosine. A
/// subject's score for a probe is the best cosine over its templates. Small galleries are scanned exactly with SIMD
/// dot products; from <see cref="GalleryOptions.HnswAbove"/> faces on, an HNSW index proposes candidates that are
/// then re-scored exactly. The store (one SQLite file by default) is written first, in one transaction per call,
/// and the in-memory index only after the commit, so memory never holds a face the store lacks.
/// </summary>
/// <remarks>
/// Thread-safe: <see cref="Identify"/> may run on many threads at once (HNSW searches are serialised);
/// enrolment, removal and threshold changes take an exclusive lock. Holds native memory (the HNSW graph) and the
/// store's connection: dispose it.
/// </remarks>
public sealed class FaceGallery : IDisposable
{
    private readonly IGalleryStore _store;
    private readonly GalleryOpenOptions _open;
    private readonly ExactIndex _exact;
    private readonly List<string> _subjectNames = [];
    private readonly Dictionary<string, int> _subjectIndex = new(StringComparer.Ordinal);
    private readonly Dictionary<int, int> _facesPerSubject = [];
    private readonly List<long> _idsInOrder = []; // for FacePage: a page without sorting every id per request
    private readonly ReaderWriterLockSlim _lock = new();
    private readonly Lock _hnswLock = new();
    private HnswIndex? _hnsw;
    private bool _disposed;
    private long _seen;
    private long _lastRefresh;
    private long _retryAfter;      // Environment.TickCount64 before which no refresh is tried (after the store was locked)
    private long _lockedRefreshes; // refreshes in a row that found the store locked
    private long _refreshAttempts;

    /// <summary>Refreshes <see cref="Identify"/> has tried (for tests of the back-off).</summary>
    internal long RefreshAttempts => Interlocked.Read(ref _refreshAttempts);

    private FaceGallery(IGalleryStore store, GalleryOpenOptions open)
    {
        _store = store;
        _open = open;
        HnswCandidates = open.HnswCandidates;
        var header = store.Header;
        _exact = new ExactIndex(header.Model.EmbeddingSize, header.Options.Precision);
        foreach (var face in store.ReadFaces()) AddToMemory(face.Id, face.Subject, face.Vector);
        if (store is ISharedGalleryStore shared) _seen = shared.LoadedSequence;
        _lastRefresh = Environment.TickCount64;
    }

    /// <summary>The model the gallery's vectors came from.</summary>
    public GalleryModel Model => _store.Header.Model;

    /// <summary>The creation options.</summary>
    public GalleryOptions Options => _store.Header.Options;

    /// <summary>The open-set threshold (best score must be strictly above it), or null.</summary>
    public double? Threshold => _store.Header.Threshold;

    /// <summary>Faces in the in-memory index (equal to the store's rows).</summary>
    public int Count
    {
        get
        {
            EnterRead();
            try { return _exact.Count; }
            finally { _lock.ExitReadLock(); }
        }
    }

    /// <summary>Faces in the HNSW graph, or null while it is not built (identification is exact, or nothing was searched yet: see <see cref="PrepareIndex"/>).</summary>
    public long? HnswCount
    {
        get
        {
            EnterRead();
            try { return _hnsw?.Count; }
            finally { _lock.ExitReadLock(); }
        }
    }

    /// <summary>How the HNSW graph came to be: "built", "loaded" (saved beside the gallery file), "updated" (loaded, then faces enrolled or removed since were applied), or null while there is none.</summary>
    internal string? HnswSource { get; private set; }

    /// <summary>HNSW candidates re-ranked per probe: <see cref="GalleryOpenOptions.HnswCandidates"/>; benchmarks sweep it on one built graph.</summary>
    internal int HnswCandidates { get; set; }

    /// <summary>"hnsw" or "exact".</summary>
    public string IndexKind => HnswWanted ? "hnsw" : "exact";

    /// <summary>
    /// Creates a gallery for <paramref name="model"/> at <paramref name="location"/>: a file path (SQLite), or a
    /// PostgreSQL URI or connection string (<see cref="PostgresGalleryStore.IsLocation"/>).
    /// </summary>
    /// <exception cref="IOException">A gallery exists there and <paramref name="overwrite"/> is false.</exception>
    /// <exception cref="GalleryUnavailableException">A PostgreSQL server cannot be reached.</exception>
    public static FaceGallery Create(string location, GalleryModel model, GalleryOptions? options = null, bool overwrite = false, GalleryOpenOptions? open = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(location);
        ArgumentNullException.ThrowIfNull(model);
        options ??= new GalleryOptions();
        if (options.Problem() is { } problem) throw new ArgumentException($"Gallery options: {problem}.", nameof(options));
        // Checked before anything is written: a gallery replaced by one whose model cannot be read back would be lost.
        if (model.Problem() is { } modelProblem) throw new ArgumentException($"Gallery model: {modelProblem}; nothing was written.", nameof(model));
        CheckOpenOptions(open);
        var header = new GalleryHeader(model, options, null, null);
        IGalleryStore store = PostgresGalleryStore.IsLocation(location)
            ? PostgresGalleryStore.Create(location, header, overwrite, open)
            : SqliteGalleryStore.Create(location, header, overwrite, open);
        return Open(store, open);
    }

    /// <summary>Opens the gallery at <paramref name="location"/> (a file path, or a PostgreSQL URI or connection string) and loads its faces into memory.</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">Not a gallery, or a damaged record (named).</exception>
    /// <exception cref="LockedException">Another writer holds it past the lock timeout.</exception>
    /// <exception cref="GalleryUnavailableException">A PostgreSQL server cannot be reached.</exception>
    public static FaceGallery Open(string location, GalleryOpenOptions? open = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(location);
        CheckOpenOptions(open);
        return Open(PostgresGalleryStore.IsLocation(location) ? PostgresGalleryStore.Open(location, open) : SqliteGalleryStore.Open(location, open), open);
    }

    /// <summary>Opens a gallery on <paramref name="store"/> (which it then owns).</summary>
    public static FaceGallery Open(IGalleryStore store, GalleryOpenOptions? open = null)
    {
        try
        {
            ArgumentNullException.ThrowIfNull(store);
            CheckOpenOptions(open);
            return new FaceGallery(store, open ?? new GalleryOpenOptions());
        }
        catch
        {
            store?.Dispose();
            throw;
        }
    }

    private static void CheckOpenOptions(GalleryOpenOptions? open)
    {
        if (open?.Problem() is { } problem) throw new ArgumentException($"Gallery open options: {problem}.", nameof(open));
    }

    /// <summary>
    /// Fails unless an embedding model with <paramref name="fingerprint"/> and <paramref name="embeddingSize"/> is
    /// the one this gallery was built with (the message names both).
    /// </summary>
    /// <exception cref="InvalidDataException">Another model or another embedding size.</exception>
    public void RequireModel(string fingerprint, int embeddingSize, string modelDescription)
    {
        if (embeddingSize != Model.EmbeddingSize)
            throw new InvalidDataException($"{_store.Location}: the gallery holds {Model.EmbeddingSize}-d embeddings of {Model.Architecture} ({Model.ModelPath}), but {modelDescription} gives {embeddingSize}-d ones.");
        if (!string.Equals(fingerprint, Model.Fingerprint, StringComparison.OrdinalIgnoreCase))
            throw new InvalidDataException($"{_store.Location}: the gallery was built with model {Model.Architecture} {Model.ModelPath} (fingerprint {Model.Fingerprint[..Math.Min(12, Model.Fingerprint.Length)]}), "
                + $"not {modelDescription} (fingerprint {fingerprint[..Math.Min(12, fingerprint.Length)]}): embeddings of different networks are not comparable.");
    }

    /// <summary>
    /// A subject id in Unicode normalisation form C, as every id is stored: "José" typed on a keyboard (NFC) and the
    /// same name as a macOS folder name (NFD, "e" + combining accent) are one subject, not two that list alike.
    /// </summary>
    public static string CanonicalSubject(string subject)
    {
        try
        {
            return subject.IsNormalized(System.Text.NormalizationForm.FormC) ? subject : subject.Normalize(System.Text.NormalizationForm.FormC);
        }
        catch (ArgumentException)
        {
            return subject; // not valid Unicode (an unpaired surrogate): new ids are refused so, lookups take it as given
        }
    }

    /// <summary>What is wrong with a subject id, or null: empty, or a control character (a tab or line break would forge rows of list and export output).</summary>
    internal static string? SubjectIdProblem(string? subject) =>
        string.IsNullOrWhiteSpace(subject) ? "empty subject id."
        : subject.Any(char.IsControl) ? $"subject id {System.Text.Json.JsonSerializer.Serialize(subject)} holds a control character (tab, line break, ...); ids are one line of text."
        : System.Text.Unicode.Utf8.FromUtf16(subject, new byte[subject.Length * 3], out _, out _, replaceInvalidSequences: false) != System.Buffers.OperationStatus.Done
            ? $"subject id {System.Text.Json.JsonSerializer.Serialize(subject)} is not valid Unicode (an unpaired surrogate)."
        : null;

    /// <summary>
    /// Enrols <paramref name="faces"/> in one transaction: all are stored or none. Vectors are normalised to unit
    /// length. A subject id already enrolled gets the new faces as extra templates. <paramref name="metadata"/> (by
    /// subject id, merged as <see cref="SetMetadata"/> does) is written in the same transaction.
    /// </summary>
    /// <returns>The new faces' ids, in order.</returns>
    /// <exception cref="ArgumentException">A face has another length, a non-finite or zero vector, or an empty subject id or one with a control character (the face's index and source are named).</exception>
    /// <exception cref="LockedException">Another writer holds the store.</exception>
    public IReadOnlyList<long> Enroll(IReadOnlyList<GalleryFace> faces, IReadOnlyDictionary<string, IReadOnlyDictionary<string, string?>>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(faces);
        var normalised = new List<GalleryFace>(faces.Count);
        for (int i = 0; i < faces.Count; i++)
        {
            var face = faces[i] ?? throw new ArgumentException($"face {i} is null.", nameof(faces));
            string where = $"face {i}{(face.Source is null ? "" : $" ({face.Source})")}";
            if ((SubjectIdProblem(face.Subject) ?? NewSubjectIdProblem(face.Subject)) is { } problem) throw new ArgumentException($"{where}: {problem}", nameof(faces));
            if (face.Vector is null || face.Vector.Length != Model.EmbeddingSize)
                throw new ArgumentException($"{where}: a {(face.Vector is null ? "null" : $"{face.Vector.Length}-d")} vector for a gallery of {Model.EmbeddingSize}-d embeddings.", nameof(faces));
            var (unit, wrong) = Unit(face.Vector);
            if (wrong is not null) throw new ArgumentException($"{where}: the vector is {wrong}.", nameof(faces));
            normalised.Add(face with { Subject = CanonicalSubject(face.Subject), Vector = unit! });
        }
        if (normalised.Count == 0) return [];
        metadata = metadata?.ToDictionary(m => CanonicalSubject(m.Key), m => m.Value, StringComparer.Ordinal);
        EnterWrite();
        try
        {
            var ids = _store.AddFaces(normalised, metadata);
            for (int i = 0; i < ids.Count; i++)
            {
                AddToMemory(ids[i], normalised[i].Subject, normalised[i].Vector);
                _hnsw?.Add(ids[i], _exact.Vector(_exact.Count - 1));
            }
            UpdateHnsw();
            return ids;
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    /// <summary>
    /// What is wrong with an id that is new to this gallery, beyond <see cref="SubjectIdProblem"/>: spaces around it would
    /// make a second subject that lists like the trimmed id. Ids already held (stored before this rule) stay usable.
    /// </summary>
    internal string? NewSubjectIdProblem(string subject)
    {
        if (subject.Trim() == subject) return null;
        EnterRead();
        try
        {
            if (_subjectIndex.ContainsKey(CanonicalSubject(subject))) return null;
        }
        finally
        {
            _lock.ExitReadLock();
        }
        return $"subject id {System.Text.Json.JsonSerializer.Serialize(subject)} begins or ends with a space, which would make it a second id that looks like {System.Text.Json.JsonSerializer.Serialize(subject.Trim())}; give it without.";
    }

    /// <summary>
    /// Adds a subject without faces (faces come later through <see cref="Enroll"/>) and its metadata, in one
    /// transaction; false when the id exists already (nothing changes).
    /// </summary>
    /// <exception cref="ArgumentException">The id is empty.</exception>
    public bool AddSubject(string subject, IReadOnlyDictionary<string, string?>? metadata = null)
    {
        if ((SubjectIdProblem(subject) ?? NewSubjectIdProblem(subject)) is { } problem) throw new ArgumentException(problem, nameof(subject));
        EnterWrite();
        try { return _store.AddSubject(CanonicalSubject(subject), metadata); }
        finally { _lock.ExitWriteLock(); }
    }

    /// <summary>How many faces <paramref name="subject"/> has in memory (0 when unknown): no store read.</summary>
    public int SubjectFaceCount(string subject)
    {
        EnterRead();
        try { return _subjectIndex.TryGetValue(CanonicalSubject(subject), out int index) ? _facesPerSubject.GetValueOrDefault(index) : 0; }
        finally { _lock.ExitReadLock(); }
    }

    /// <summary>
    /// The face of <paramref name="subject"/> closest to <paramref name="vector"/> when their cosine is at least
    /// <paramref name="minCosine"/> (the same photo enrolled again), else null. Scans that subject's faces only, in
    /// memory (whatever other subjects hold the same photo).
    /// </summary>
    /// <exception cref="ArgumentException">The vector's length differs from the gallery's, or it is zero or not finite.</exception>
    public GalleryMatch? SameFace(string subject, float[] vector, double minCosine)
    {
        var unit = UnitProbe(vector, nameof(vector));
        string id = CanonicalSubject(subject);
        EnterRead();
        try
        {
            if (!_subjectIndex.TryGetValue(id, out int index)) return null;
            GalleryMatch? best = null;
            for (int row = 0; row < _exact.Count; row++)
            {
                if (_exact.Subject(row) != index) continue;
                float score = _exact.Score(row, unit);
                if (score >= minCosine && (best is null || score > best.Score)) best = new GalleryMatch(id, score, _exact.FaceId(row));
            }
            return best;
        }
        finally { _lock.ExitReadLock(); }
    }

    /// <summary><paramref name="vector"/> (a probe, the argument <paramref name="name"/>) at unit length, checked against the gallery's embeddings.</summary>
    private float[] UnitProbe(float[] vector, string name)
    {
        ArgumentNullException.ThrowIfNull(vector, name);
        if (vector.Length != Model.EmbeddingSize) throw new ArgumentException($"A {vector.Length}-d {name} for a gallery of {Model.EmbeddingSize}-d embeddings.", name);
        var (unit, wrong) = Unit(vector);
        return wrong is null ? unit! : throw new ArgumentException($"The {name} is {wrong}.", name);
    }

    /// <summary>
    /// One page of the enrolled faces in id order (id and subject, from memory: no store read), and the total count.
    /// </summary>
    public (IReadOnlyList<(long Id, string Subject)> Faces, int Total) FacePage(int offset, int limit)
    {
        if (offset < 0 || limit < 0) throw new ArgumentException($"offset {offset} and limit {limit} must not be negative.");
        EnterRead();
        try
        {
            int first = Math.Min(offset, _idsInOrder.Count), count = Math.Min(limit, _idsInOrder.Count - first);
            var page = _idsInOrder.GetRange(first, count).Select(id => (id, SubjectOf(id))).ToList();
            return (page, _exact.Count);
        }
        finally { _lock.ExitReadLock(); }
    }

    /// <summary>Removes a subject and all its templates; the number of faces removed (0 for a subject without faces), or null when no such subject.</summary>
    public int? Remove(string subject)
    {
        ArgumentNullException.ThrowIfNull(subject);
        EnterWrite();
        try
        {
            // As given too: a gallery written before ids were normalised may hold another form.
            string canonical = CanonicalSubject(subject);
            var ids = _store.RemoveSubject(canonical) ?? (canonical == subject ? null : _store.RemoveSubject(subject));
            if (ids is null) return null;
            foreach (long id in ids) RemoveFromMemory(id);
            UpdateHnsw();
            return ids.Count;
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    /// <summary>Merges metadata into a subject's (a null value removes the key).</summary>
    /// <exception cref="KeyNotFoundException">No such subject.</exception>
    public void SetMetadata(string subject, IReadOnlyDictionary<string, string?> metadata)
    {
        EnterWrite();
        try { _store.SetMetadata(CanonicalSubject(subject), metadata); }
        finally { _lock.ExitWriteLock(); }
    }

    /// <summary>Records the open-set threshold (null removes it) and the FPIR it was calibrated for, if any.</summary>
    public void SetThreshold(double? threshold, double? fpir = null)
    {
        if (threshold is double t && !(t >= -1 && t <= 1)) throw new ArgumentException($"Threshold {t} is not a cosine in [-1, 1].", nameof(threshold));
        EnterWrite();
        try { _store.SetThreshold(threshold, fpir); }
        finally { _lock.ExitWriteLock(); }
    }

    /// <summary>
    /// Calibrates and records the threshold for <paramref name="targetFpir"/> from probes of people who are not
    /// enrolled (see <see cref="ThresholdCalibration.CalibrateThreshold"/>).
    /// </summary>
    /// <exception cref="ArgumentException">The target is not a rate in (0, 1), or fewer probes than <see cref="MinimumCalibrationProbes"/>.</exception>
    /// <exception cref="InvalidOperationException">The gallery is empty.</exception>
    public GalleryCalibration Calibrate(IEnumerable<float[]> nonMatedProbes, double targetFpir)
    {
        if (!(targetFpir > 0 && targetFpir < 1)) throw new ArgumentException($"The target FPIR {targetFpir} is not a rate in (0, 1).", nameof(targetFpir));
        const string empty = "The gallery is empty: enrol subjects before calibrating.";
        if (Count == 0) throw new InvalidOperationException(empty);
        // Best is null only if another process emptied a shared gallery meanwhile.
        var probes = nonMatedProbes.ToList();
        if (probes.Count == 0) throw new ArgumentException("No unknown probes to calibrate on.", nameof(nonMatedProbes));
        // One probe "measures" any rate as 0 or 1: a threshold fitted to fewer probes than the rate can resolve would let strangers through.
        if (probes.Count < MinimumCalibrationProbes(targetFpir))
            throw new ArgumentException($"FPIR {targetFpir} cannot be measured on {probes.Count} unknown probe(s): it needs at least {MinimumCalibrationProbes(targetFpir)} faces of people not in the gallery; the threshold is unchanged.", nameof(nonMatedProbes));
        var scores = probes.Select(p => Identify(p, 1).Best?.Score ?? throw new InvalidOperationException(empty)).ToList();
        double threshold = ThresholdCalibration.CalibrateThreshold(scores, targetFpir);
        SetThreshold(threshold, targetFpir);
        return new GalleryCalibration(threshold, targetFpir, scores.Count, ThresholdCalibration.Fpir(scores, threshold));
    }

    /// <summary>The fewest unknown probes that can measure <paramref name="targetFpir"/>: 1 / FPIR.</summary>
    public static int MinimumCalibrationProbes(double targetFpir) => (int)Math.Ceiling(1 / targetFpir - 1e-9);

    /// <summary>
    /// The <paramref name="topK"/> best subjects for <paramref name="probe"/>, each scored by its best template, and
    /// whether the best one passes the gallery's threshold.
    /// </summary>
    /// <remarks>
    /// First applies other processes' changes to the store (at most every <see cref="GalleryOpenOptions.RefreshInterval"/>);
    /// a store another writer holds past <see cref="GalleryOpenOptions.LockTimeout"/> delays the probe by that timeout
    /// (and other callers waiting on the gallery), and the probe is then answered from memory as it is; probes after it
    /// are answered from memory at once for a pause (1 s, doubling with each locked try, at most a minute).
    /// </remarks>
    /// <exception cref="ArgumentException">The probe's length differs from the gallery's, or it is zero or not finite.</exception>
    public GalleryIdentification Identify(float[] probe, int topK = 5)
    {
        if (topK < 1) throw new ArgumentException($"top-k must be at least 1 (got {topK}).", nameof(topK));
        var unit = UnitProbe(probe, nameof(probe));
        if (_store is ISharedGalleryStore) RefreshIfDue();
        PrepareIndex();
        EnterRead();
        try
        {
            // No more subjects than there are (a top-k of int.MaxValue must not size a list by it).
            topK = Math.Min(topK, Math.Max(1, _facesPerSubject.Count));
            List<(int Row, float Score)> rows;
            if (_hnsw is { } hnsw)
            {
                long[] ids;
                lock (_hnswLock) ids = hnsw.Search(unit, Math.Max(HnswCandidates, 4 * topK));
                rows = ids.Select(id => _exact.TryRow(id, out int row) ? row : -1).Where(r => r >= 0)
                    .Select(r => (r, _exact.Score(r, unit))).OrderByDescending(x => x.Item2).ToList();
            }
            else
            {
                // Scan for enough faces to hold topK distinct subjects; widen when one subject's templates crowd the top.
                int want = Math.Max(4 * topK, 16);
                while (true)
                {
                    rows = _exact.Search(unit, want);
                    if (rows.Count >= _exact.Count || rows.Select(r => _exact.Subject(r.Row)).Distinct().Count() >= topK) break;
                    want *= 4;
                }
            }
            var matches = new List<GalleryMatch>(topK);
            var seen = new HashSet<int>();
            foreach (var (row, score) in rows)
            {
                if (!seen.Add(_exact.Subject(row))) continue;
                matches.Add(new GalleryMatch(_subjectNames[_exact.Subject(row)], score, _exact.FaceId(row)));
                if (matches.Count == topK) break;
            }
            double? threshold = Threshold;
            bool? known = threshold is double t ? matches.Count > 0 && matches[0].Score > t : null;
            return new GalleryIdentification(matches, threshold, known, _hnsw is null ? "exact" : "hnsw");
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    /// <summary>
    /// Applies the changes other processes (or other <see cref="FaceGallery"/> objects) committed to the store (an SQLite
    /// file or PostgreSQL) since this gallery last looked; a no-op for a store of this object alone (in memory). <see cref="Identify"/> calls it at most every
    /// <see cref="GalleryOpenOptions.RefreshInterval"/>.
    /// </summary>
    public void Refresh()
    {
        if (_store is not ISharedGalleryStore shared) return;
        EnterWrite();
        try
        {
            var changes = shared.ChangesSince(_seen);
            if (changes.Reset)
            {
                // Face ids are never reused (AUTOINCREMENT, BIGSERIAL): a face in memory and in the store is the same face.
                var stored = changes.Added.Select(f => f.Id).ToHashSet();
                foreach (long id in _idsInOrder.Where(id => !stored.Contains(id)).ToList()) RemoveFromMemory(id);
            }
            foreach (long id in changes.Removed) RemoveFromMemory(id);
            foreach (var face in changes.Added)
            {
                // Our own writes come back through the log too: skip what memory holds already.
                if (_exact.TryRow(face.Id, out _)) continue;
                AddToMemory(face.Id, face.Subject, face.Vector);
                _hnsw?.Add(face.Id, _exact.Vector(_exact.Count - 1));
            }
            _seen = changes.Sequence;
            Interlocked.Exchange(ref _lastRefresh, Environment.TickCount64);
            UpdateHnsw();
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    /// <summary>
    /// Refreshes when the interval has passed: of concurrent callers, the one that moves the refresh time runs it
    /// and the others go on with memory as it is (else every caller queued on the write lock to refresh in turn).
    /// A zero interval refreshes before every probe.
    /// </summary>
    private void RefreshIfDue()
    {
        long now = Environment.TickCount64;
        if (now < Interlocked.Read(ref _retryAfter)) return;
        if (_open.RefreshInterval > TimeSpan.Zero)
        {
            long last = Interlocked.Read(ref _lastRefresh);
            if (now - last < _open.RefreshInterval.TotalMilliseconds || Interlocked.CompareExchange(ref _lastRefresh, now, last) != last) return;
        }
        try
        {
            Interlocked.Increment(ref _refreshAttempts);
            Refresh();
            Interlocked.Exchange(ref _lockedRefreshes, 0);
        }
        catch (LockedException)
        {
            // Another writer holds the store past the lock timeout: this probe is answered from memory as it is. Later
            // probes do not each wait the timeout again (holding the gallery's lock, so other callers too): the next
            // try comes after a pause that doubles with each failed one, from one second up to a minute.
            int failed = (int)Math.Min(Interlocked.Increment(ref _lockedRefreshes), 7);
            Interlocked.Exchange(ref _retryAfter, Environment.TickCount64 + Math.Min(60_000, 1000L << (failed - 1)));
        }
    }

    /// <summary>Every subject with its face count and metadata, by id.</summary>
    public IReadOnlyList<GallerySubject> Subjects()
    {
        // The write lock: the store's one connection is not thread-safe, so every store call is serialised.
        EnterWrite();
        try { return _store.Subjects(); }
        finally { _lock.ExitWriteLock(); }
    }

    /// <summary>One subject with its face count and metadata (one store read), or null when unknown.</summary>
    public GallerySubject? Subject(string id)
    {
        EnterWrite();
        try { return _store.Subjects(CanonicalSubject(id)).SingleOrDefault() ?? (CanonicalSubject(id) == id ? null : _store.Subjects(id).SingleOrDefault()); }
        finally { _lock.ExitWriteLock(); }
    }

    /// <summary>The gallery's figures.</summary>
    public GalleryStats Stats()
    {
        EnterRead();
        try
        {
            var header = _store.Header;
            return new GalleryStats(_exact.Count, _facesPerSubject.Count, header.Model.EmbeddingSize, header.Options.Precision, IndexKind, header.Options.HnswAbove,
                header.Threshold, header.ThresholdFpir, header.Model, _store.Location);
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    /// <summary>
    /// Writes the gallery as JSON: format, model, precision, threshold, subjects (id, metadata) and faces (id,
    /// subject, quality, source, vector as stored, widened to float32), read from the store in id order.
    /// </summary>
    public void Export(Stream output)
    {
        EnterWrite(); // reads the store: serialised like every store call
        try
        {
            using var json = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = false });
            var header = _store.Header;
            json.WriteStartObject();
            json.WriteString("format", "faceforge-gallery-export");
            json.WriteNumber("version", 1);
            json.WriteStartObject("model");
            json.WriteString("fingerprint", header.Model.Fingerprint);
            json.WriteString("architecture", header.Model.Architecture);
            json.WriteNumber("embedding_size", header.Model.EmbeddingSize);
            json.WriteString("template", header.Model.Template);
            json.WriteString("path", header.Model.ModelPath);
            json.WriteString("detector", header.Model.DetectorPath);
            json.WriteEndObject();
            json.WriteString("precision", header.Options.Precision.ToString().ToLowerInvariant());
            if (header.Threshold is double t) json.WriteNumber("threshold", t);
            else json.WriteNull("threshold");
            json.WriteStartArray("subjects");
            foreach (var subject in _store.Subjects())
            {
                json.WriteStartObject();
                json.WriteString("id", subject.Id);
                json.WriteStartObject("metadata");
                foreach (var (key, value) in subject.Metadata) json.WriteString(key, value);
                json.WriteEndObject();
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteStartArray("faces");
            foreach (var face in _store.ReadFaces())
            {
                json.WriteStartObject();
                json.WriteNumber("id", face.Id);
                json.WriteString("subject", face.Subject);
                if (face.Quality is double q) json.WriteNumber("quality", q);
                else json.WriteNull("quality");
                json.WriteString("source", face.Source);
                json.WriteStartArray("vector");
                foreach (float v in face.Vector) json.WriteNumberValue(v);
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    /// <summary>The ids of the faces in memory, for consistency checks against the store.</summary>
    internal IReadOnlyList<long> FaceIds()
    {
        EnterRead();
        try { return Enumerable.Range(0, _exact.Count).Select(_exact.FaceId).Order().ToList(); }
        finally { _lock.ExitReadLock(); }
    }

    /// <summary>The exact index, for benchmarks (bandwidth reference, exact vs HNSW).</summary>
    internal ExactIndex Exact => _exact;

    /// <summary>Exact top-k rows bypassing HNSW (benchmarks and recall tests); face ids, best first.</summary>
    internal long[] ExactNearest(float[] unitProbe, int count)
    {
        EnterRead();
        try { return _exact.Search(unitProbe, count).Select(r => _exact.FaceId(r.Row)).ToArray(); }
        finally { _lock.ExitReadLock(); }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        // Waits for calls in flight (an HNSW search freed under it would crash the process); later calls throw
        // ObjectDisposedException. The lock itself is left to the collector: a thread may still be queued on it.
        _lock.EnterWriteLock();
        try
        {
            if (_disposed) return;
            _disposed = true;
            _hnsw?.Dispose();
            _hnsw = null;
            _store.Dispose();
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    private void EnterRead()
    {
        _lock.EnterReadLock();
        if (!_disposed) return;
        _lock.ExitReadLock();
        throw new ObjectDisposedException(nameof(FaceGallery), $"The gallery {_store.Location} is closed (disposed).");
    }

    private void EnterWrite()
    {
        _lock.EnterWriteLock();
        if (!_disposed) return;
        _lock.ExitWriteLock();
        throw new ObjectDisposedException(nameof(FaceGallery), $"The gallery {_store.Location} is closed (disposed).");
    }

    /// <summary>
    /// A unit-length copy, or why there is none ("zero", "not finite"); embeddings that are unit length already (to
    /// float precision) are kept bit for bit. A norm that float cannot hold (values near 1e-30 or 1e38) is taken in double.
    /// </summary>
    private static (float[]? Unit, string? Problem) Unit(float[] vector)
    {
        foreach (float v in vector) if (!float.IsFinite(v)) return (null, "not finite");
        var unit = (float[])vector.Clone();
        float norm = TensorPrimitives.Norm(vector);
        if (float.IsNormal(norm))
        {
            if (Math.Abs(norm - 1) > 1e-6f) TensorPrimitives.Divide(vector, norm, unit);
            return (unit, null);
        }
        double exact = Math.Sqrt(vector.Sum(v => (double)v * v));
        if (exact == 0) return (null, "zero");
        for (int i = 0; i < unit.Length; i++) unit[i] = (float)(vector[i] / exact);
        return (unit, null);
    }

    private void AddToMemory(long id, string subject, float[] vector)
    {
        if (!_subjectIndex.TryGetValue(subject, out int index))
        {
            index = _subjectNames.Count;
            _subjectNames.Add(subject);
            _subjectIndex[subject] = index;
        }
        _facesPerSubject[index] = _facesPerSubject.GetValueOrDefault(index) + 1;
        _exact.Add(id, index, vector);
        // Ids mostly arrive in increasing order (a store's sequence); other processes' commits may interleave.
        if (_idsInOrder.Count == 0 || _idsInOrder[^1] < id) _idsInOrder.Add(id);
        else _idsInOrder.Insert(~_idsInOrder.BinarySearch(id), id);
    }

    private string SubjectOf(long id) => _exact.TryRow(id, out int row) ? _subjectNames[_exact.Subject(row)] : throw new InvalidOperationException($"Face {id} is not in memory.");

    private void RemoveFromMemory(long id)
    {
        if (!_exact.TryRow(id, out int row)) return;
        int subject = _exact.Subject(row);
        _exact.Remove(id);
        _idsInOrder.RemoveAt(_idsInOrder.BinarySearch(id));
        _hnsw?.Remove(id);
        if (_facesPerSubject.TryGetValue(subject, out int left) && left > 1) _facesPerSubject[subject] = left - 1;
        else _facesPerSubject.Remove(subject);
    }

    private bool HnswWanted => _open.ForceHnsw ?? _exact.Count >= Options.HnswAbove;

    /// <summary>
    /// Builds the HNSW graph now if identification uses one (the gallery has reached its size threshold), or loads
    /// the one saved beside the gallery file; otherwise the first <see cref="Identify"/> does, so commands that do not
    /// search (enrol, list, stats) never pay for it. Servers call it at start-up.
    /// </summary>
    public void PrepareIndex()
    {
        if (!HnswWanted || Volatile.Read(ref _hnsw) is not null) return;
        EnterWrite();
        try
        {
            if (HnswWanted && _hnsw is null) _hnsw = LoadOrBuildHnsw();
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    /// <summary>
    /// The saved graph brought up to date, or a new one (saved when the store keeps a graph file). Face ids are never
    /// reused within a gallery's history (the graph file is only loaded for the history it was saved from), so a
    /// saved graph needs only the faces enrolled since (ids it lacks) added and the removed ones (ids up to its
    /// highest that memory no longer holds) dropped; it is saved again once those changes reach 1 % of the faces.
    /// </summary>
    private HnswIndex LoadOrBuildHnsw()
    {
        var file = _open.SaveHnswGraph ? _store.GraphFile : null;
        long maxId = _idsInOrder.Count == 0 ? 0 : _idsInOrder[^1];
        if (file?.TryLoad(_exact.Dimensions, _open, out long savedMaxId) is { } loaded)
        {
            try
            {
                var missing = Enumerable.Range(0, _exact.Count).Where(row => !loaded.Contains(_exact.FaceId(row))).ToList();
                // The manifest is not covered by the hash: the walk stops once every id the graph holds has been met,
                // so an edited highest id costs nothing (a wrong one leaves a count that does not match: rebuilt).
                int removed = 0;
                long held = loaded.Count, met = 0;
                for (long id = 1; id <= savedMaxId && met < held; id++)
                {
                    if (!loaded.Contains(id)) continue;
                    met++;
                    if (_exact.TryRow(id, out _)) continue;
                    loaded.Remove(id);
                    removed++;
                }
                loaded.AddMany(missing.Count, i => (_exact.FaceId(missing[i]), _exact.Vector(missing[i])));
                if (loaded.Count == _exact.Count)
                {
                    int changes = missing.Count + removed;
                    HnswSource = changes == 0 ? "loaded" : "updated";
                    if (changes > 0 && 100L * changes >= _exact.Count) file.TrySave(loaded, _exact.Dimensions, _open, maxId);
                    return loaded;
                }
            }
            catch (Exception e) when (e is USearchException or System.Reflection.TargetInvocationException)
            {
                // A graph USearch cannot update is rebuilt like one that does not fit.
            }
            loaded.Dispose(); // a count the manifest's highest id cannot account for: not a graph to trust
        }
        var hnsw = new HnswIndex(_exact.Dimensions, _open);
        try
        {
            hnsw.AddMany(_exact.Count, row => (_exact.FaceId(row), _exact.Vector(row)));
        }
        catch
        {
            hnsw.Dispose();
            throw;
        }
        HnswSource = "built";
        file?.TrySave(hnsw, _exact.Dimensions, _open, maxId);
        return hnsw;
    }

    /// <summary>Drops the HNSW graph once the gallery falls below its size threshold; <see cref="PrepareIndex"/> builds it when needed.</summary>
    private void UpdateHnsw()
    {
        if (HnswWanted || _hnsw is null) return;
        _hnsw.Dispose();
        _hnsw = null;
        HnswSource = null;
    }
}
