using System.Globalization;
using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace FaceForge.Gallery;

/// <summary>
/// A gallery in one SQLite file: tables meta (key/value: format, model, options, threshold), subjects and faces
/// (vector as a little-endian float32 or float16 blob). Rollback journal with synchronous=FULL: a commit is on disk
/// when it returns, and a write interrupted by a crash is rolled back by the next open. Several processes (a service
/// and the `gallery` commands) may open one file: every write also appends to a change log (table changes), so each
/// <see cref="FaceGallery"/> keeps its memory in step with the others' writes, as with PostgreSQL.
/// </summary>
/// <remarks>Not thread-safe (one connection); <see cref="FaceGallery"/> serialises calls.</remarks>
public sealed class SqliteGalleryStore : ISharedGalleryStore
{
    /// <summary>The value of meta 'format' that marks a FaceForge gallery.</summary>
    public const string Format = "faceforge-gallery";

    /// <summary>The schema version this code writes and reads.</summary>
    public const int SchemaVersion = 1;

    private const int SqliteError = 1, SqliteConstraint = 19, SqliteBusy = 5, SqliteLocked = 6, SqliteReadOnly = 8, SqliteCorrupt = 11, SqliteFull = 13, SqliteCantOpen = 14, SqliteNotADatabase = 26;

    private readonly SqliteConnection _connection;

    // False while a file written before the change log lacks it (it could not be added at open: read-only, or busy):
    // the next write adds it in its own transaction, and each refresh looks for it (another process may have added it).
    private bool _logged;

    // Every face read (ReadFaceRows's columns), before an optional WHERE and the ORDER BY.
    private const string FaceRows = "SELECT f.id, s.name, f.vector, f.quality, f.source FROM faces f JOIN subjects s ON s.id = f.subject ";

    private const string ChangesTable = "CREATE TABLE changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, face_id INTEGER NOT NULL, added INTEGER NOT NULL)";

    // Meta key naming the change log: a new one each time the table is made, so a reader can tell a log dropped and
    // made again (by hand) from its own, whose sequence numbers it can trust.
    private const string ChangeLogKey = "change_log";

    // The change log this store's reads are in step with (null: none, or one made before logs were named).
    private string? _logId;

    // The log's row at the sequence this store last read up to (face id, added), or null: a table dropped and made
    // again by hand keeps the log's name, but not, at that number, the same row.
    private (long Sequence, long FaceId, long Added)? _lastRow;

    private (long, long, long)? RowAt(long sequence, SqliteTransaction transaction)
    {
        if (sequence <= 0) return null;
        using var command = Command(transaction, "SELECT face_id, added FROM changes WHERE seq = $seq", "$seq");
        using var reader = command.With(sequence).ExecuteReader();
        return reader.Read() ? (sequence, reader.GetInt64(0), reader.GetInt64(1)) : null;
    }

    /// <summary>Makes the change log and names it, in <paramref name="transaction"/>; returns its name.</summary>
    private static string MakeChangeLog(SqliteConnection connection, SqliteTransaction transaction)
    {
        string id = Guid.NewGuid().ToString("N");
        Execute(connection, ChangesTable, transaction);
        SetMeta(connection, ChangeLogKey, id, transaction);
        return id;
    }

    private SqliteGalleryStore(string path, SqliteConnection connection, GalleryHeader header, string? created, bool logged)
    {
        Location = path;
        _connection = connection;
        Header = header;
        _logged = logged;
        // Galleries without a creation stamp (none are written so) keep no graph file: it could not be told from another's.
        _graphFile = created is null ? null : new HnswGraphFile(path + ".hnsw", created, GraphMark, SetGraphMark);
    }

    /// <summary>The hash of the HNSW graph last saved beside this file (see <see cref="HnswGraphFile"/>), read now: another process may have saved one since.</summary>
    private string? GraphMark() => Guard(Location, () =>
    {
        using var command = _connection.CreateCommand();
        command.CommandText = "SELECT value FROM meta WHERE key = 'hnsw_graph'";
        return command.ExecuteScalar() as string;
    });

    /// <summary>Records a saved graph's hash; false when the file cannot be written now (the graph is then rebuilt by the next process).</summary>
    private bool SetGraphMark(string sha)
    {
        try
        {
            return Write(transaction =>
            {
                SetMeta(_connection, "hnsw_graph", sha, transaction);
                return true;
            });
        }
        // A read-only file, or one replaced under this process (SQLite error 8), is a graph not recorded: rebuilt next time.
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException or Microsoft.Data.Sqlite.SqliteException)
        {
            return false;
        }
    }

    private readonly HnswGraphFile? _graphFile;

    HnswGraphFile? IGalleryStore.GraphFile => _graphFile;

    /// <inheritdoc/>
    public string Location { get; }

    /// <inheritdoc/>
    public GalleryHeader Header { get; private set; }

    /// <inheritdoc/>
    public long LoadedSequence { get; private set; }

    /// <summary>
    /// Creates a gallery file at <paramref name="path"/>. The file is written under a temporary name and renamed into
    /// place, so a failed creation never leaves a half-made gallery, and with <paramref name="overwrite"/> an existing
    /// gallery is replaced only once the new one is complete.
    /// </summary>
    /// <exception cref="IOException">The file exists and <paramref name="overwrite"/> is false.</exception>
    public static SqliteGalleryStore Create(string path, GalleryHeader header, bool overwrite, GalleryOpenOptions? options = null)
    {
        path = Path.GetFullPath(path);
        if (Path.GetDirectoryName(path) is { } folder && !Directory.Exists(folder))
            throw new DirectoryNotFoundException($"'{path}': the folder {folder} does not exist; create it first.");
        if (Directory.Exists(path)) throw new IOException($"'{path}' is a folder; give a file name for the gallery.");
        if (File.Exists(path) && !overwrite) throw new IOException($"'{path}' already exists; a gallery is only replaced when asked to overwrite it.");
        string temporary = $"{path}.{Guid.NewGuid():N}.creating";
        try
        {
            Guard(path, () =>
            {
                using var connection = Connect(temporary, SqliteOpenMode.ReadWriteCreate, options, shown: path);
                using var transaction = connection.BeginTransaction();
                Execute(connection, """
                    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
                    CREATE TABLE subjects (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, metadata TEXT NOT NULL DEFAULT '{}');
                    CREATE TABLE faces (id INTEGER PRIMARY KEY AUTOINCREMENT, subject INTEGER NOT NULL REFERENCES subjects(id) ON DELETE CASCADE,
                        vector BLOB NOT NULL, quality REAL, source TEXT);
                    CREATE INDEX faces_subject ON faces(subject);
                    """, transaction);
                MakeChangeLog(connection, transaction);
                var meta = header.ToMeta();
                meta["created_utc"] = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture);
                foreach (var (key, value) in meta) SetMeta(connection, key, value, transaction);
                transaction.Commit();
                return 0;
            });
            // Stale journals of a replaced file would be replayed into the new one.
            foreach (string suffix in new[] { "-journal", "-wal", "-shm" }) File.Delete(path + suffix);
            File.Move(temporary, path, overwrite);
            // The replaced gallery's saved HNSW graph: never loaded for the new one (another creation stamp), only wasted space.
            try
            {
                foreach (string suffix in new[] { ".hnsw", ".hnsw.json" }) File.Delete(path + suffix);
                new HnswGraphFile(path + ".hnsw", "").DeleteStaleTemporaries(TimeSpan.Zero);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        finally
        {
            File.Delete(temporary);
            File.Delete(temporary + "-journal");
        }
        return Open(path, options);
    }

    /// <summary>Opens the gallery file at <paramref name="path"/>.</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">The file is not an SQLite database, or not a FaceForge gallery, or one of a newer schema.</exception>
    /// <exception cref="LockedException">Another writer holds it past the lock timeout.</exception>
    public static SqliteGalleryStore Open(string path, GalleryOpenOptions? options = null)
    {
        path = Path.GetFullPath(path);
        if (!File.Exists(path))
            throw new FileNotFoundException(Directory.Exists(path) ? $"Gallery '{path}' is a folder; give the gallery file." : $"Gallery '{path}' does not exist (create it with 'faceforge gallery create').", path);
        var connection = Connect(path, SqliteOpenMode.ReadWrite, options);
        try
        {
            var meta = ReadMeta(connection, path);
            var header = GalleryHeader.FromMeta(path, meta);
            return new SqliteGalleryStore(path, connection, header, meta.GetValueOrDefault("created_utc"), AddChangeLog(connection, path));
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    private static Dictionary<string, string?> ReadMeta(SqliteConnection connection, string path, SqliteTransaction? transaction = null) => Guard(path, () =>
    {
        var values = new Dictionary<string, string?>();
        using var command = connection.CreateCommand();
        if (transaction is not null) command.Transaction = transaction;
        command.CommandText = "SELECT key, value FROM meta";
        using var reader = command.ExecuteReader();
        while (reader.Read()) values[reader.GetString(0)] = reader.IsDBNull(1) ? null : reader.GetString(1);
        return values;
    });

    /// <summary>Whether the file has the change log.</summary>
    /// <exception cref="InvalidDataException">Something else (a view, an index) is named like it.</exception>
    private static bool HasChangeLog(SqliteConnection connection, string path, SqliteTransaction? transaction = null)
    {
        using var command = connection.CreateCommand();
        if (transaction is not null) command.Transaction = transaction;
        command.CommandText = "SELECT type FROM sqlite_master WHERE name = 'changes'";
        return command.ExecuteScalar() switch
        {
            null => false,
            "table" => true,
            var type => throw new InvalidDataException($"{path}: a damaged FaceForge gallery: its change log 'changes' is {(type is "index" ? "an" : "a")} {type}, not a table (was the file edited by hand?)."),
        };
    }

    /// <summary>Whether the file has the change log, adding it to a file written before it where the file can be written now.</summary>
    private static bool AddChangeLog(SqliteConnection connection, string path)
    {
        bool Has() => HasChangeLog(connection, path);
        if (Guard(path, Has)) return true;
        try
        {
            return Guard(path, () =>
            {
                using var transaction = connection.BeginTransaction(deferred: false);
                if (!Has()) MakeChangeLog(connection, transaction);
                transaction.Commit();
                return true;
            });
        }
        catch (Exception e) when (e is UnauthorizedAccessException or LockedException or IOException)
        {
            return false; // a read-only or busy file still opens; the log is added by its next write or found by a refresh
        }
    }

    /// <inheritdoc/>
    public IEnumerable<StoredFace> ReadFaces()
    {
        // One read transaction: the faces and the change sequence they are consistent with.
        using var transaction = Guard(Location, () => _connection.BeginTransaction(deferred: true));
        LoadedSequence = _logged ? Guard(Location, () => LastSequence(transaction)) : 0;
        _logId = _logged ? Guard(Location, () => ReadMeta(_connection, Location, transaction).GetValueOrDefault(ChangeLogKey)) : null;
        _lastRow = _logged ? Guard(Location, () => RowAt(LoadedSequence, transaction)) : null;
        using var command = _connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = FaceRows + "ORDER BY f.id";
        foreach (var face in ReadFaceRows(command)) yield return face;
        transaction.Commit();
    }

    private long LastSequence(SqliteTransaction transaction)
    {
        using var command = Command(transaction, "SELECT COALESCE(MAX(seq), 0) FROM changes");
        return (long)command.ExecuteScalar()!;
    }

    /// <inheritdoc/>
    public GalleryChanges ChangesSince(long sequence) => Guard(Location, () =>
    {
        using var transaction = _connection.BeginTransaction(deferred: true);
        var removed = new List<long>();
        var faces = new List<StoredFace>();
        long last = sequence;
        bool hasLog = HasChangeLog(_connection, Location, transaction);
        var meta = ReadMeta(_connection, Location, transaction);
        string? logId = meta.GetValueOrDefault(ChangeLogKey);
        bool reset = false;
        if (!_logged && hasLog)
        {
            // A log added since this file was opened holds every change made after it was added: all are after this load.
            _logged = true;
            _logId = logId;
        }
        // The row at the reader's number: gone when the log now numbers below it, another one when it was refilled.
        else if (_logged && (!hasLog || logId != _logId || (sequence > 0 && RowAt(sequence, transaction) != _lastRow)))
        {
            // The log this reader followed is gone, or was made again: what changed since is unknown, so every face is read.
            reset = true;
            _logged = hasLog;
            _logId = hasLog ? logId : null;
            last = hasLog ? LastSequence(transaction) : 0;
            using var all = Command(transaction, FaceRows + "ORDER BY f.id");
            faces.AddRange(ReadFaceRows(all));
        }
        if (_logged && !reset)
        {
            using (var changes = Command(transaction, "SELECT seq, face_id, added FROM changes WHERE seq > $seq ORDER BY seq", "$seq"))
            {
                using var reader = changes.With(sequence).ExecuteReader();
                while (reader.Read())
                {
                    last = reader.GetInt64(0);
                    if (reader.GetInt64(2) == 0) removed.Add(reader.GetInt64(1));
                }
            }
            if (last > sequence)
            {
                // Faces added since and still there (one added and removed since is in neither memory nor the store).
                using var command = Command(transaction, FaceRows
                    + "WHERE f.id IN (SELECT face_id FROM changes WHERE seq > $seq AND added = 1) ORDER BY f.id", "$seq");
                command.Parameters[0].Value = sequence;
                faces.AddRange(ReadFaceRows(command));
            }
        }
        if (_logged) _lastRow = RowAt(last, transaction);
        Header = GalleryHeader.FromMeta(Location, meta);
        transaction.Commit();
        return new GalleryChanges(faces, removed, last, Header, reset);
    });

    private IEnumerable<StoredFace> ReadFaceRows(SqliteCommand command)
    {
        var model = Header.Model;
        using var reader = Guard(Location, command.ExecuteReader);
        while (Guard(Location, reader.Read))
        {
            long id = reader.GetInt64(0);
            var blob = (byte[])reader.GetValue(2);
            var vector = VectorCodec.Decode(blob, model.EmbeddingSize, Header.Options.Precision)
                ?? throw new InvalidDataException($"{Location}: face {id}: vector of {blob.Length} bytes, expected {model.EmbeddingSize} {Header.Options.Precision.ToString().ToLowerInvariant()} values.");
            yield return new StoredFace(id, reader.GetString(1), vector, reader.IsDBNull(3) ? null : reader.GetDouble(3), reader.IsDBNull(4) ? null : reader.GetString(4));
        }
    }

    /// <inheritdoc/>
    public IReadOnlyList<long> AddFaces(IReadOnlyList<GalleryFace> faces, IReadOnlyDictionary<string, IReadOnlyDictionary<string, string?>>? metadata = null) => Write(transaction =>
    {
        var subjects = new Dictionary<string, long>(StringComparer.Ordinal);
        using var find = Command(transaction, "SELECT id FROM subjects WHERE name = $name", "$name");
        using var addSubject = Command(transaction, "INSERT INTO subjects(name) VALUES ($name) RETURNING id", "$name");
        using var addFace = Command(transaction, "INSERT INTO faces(subject, vector, quality, source) VALUES ($subject, $vector, $quality, $source) RETURNING id",
            "$subject", "$vector", "$quality", "$source");
        var ids = new List<long>(faces.Count);
        foreach (var face in faces)
        {
            if (!subjects.TryGetValue(face.Subject, out long subject))
            {
                find.Parameters[0].Value = face.Subject;
                subject = find.ExecuteScalar() is long known ? known : (long)addSubject.With(face.Subject).ExecuteScalar()!;
                subjects[face.Subject] = subject;
            }
            addFace.Parameters[0].Value = subject;
            addFace.Parameters[1].Value = VectorCodec.Encode(face.Vector, Header.Options.Precision);
            addFace.Parameters[2].Value = face.Quality is double q ? q : DBNull.Value;
            addFace.Parameters[3].Value = (object?)face.Source ?? DBNull.Value;
            ids.Add((long)addFace.ExecuteScalar()!);
        }
        if (metadata is not null) foreach (var (name, values) in metadata) MergeMetadata(transaction, name, values);
        Log(transaction, ids, added: true);
        return ids;
    });

    /// <inheritdoc/>
    public bool AddSubject(string subject, IReadOnlyDictionary<string, string?>? metadata = null) => Write(transaction =>
    {
        using var add = Command(transaction, "INSERT OR IGNORE INTO subjects(name) VALUES ($name)", "$name");
        if (add.With(subject).ExecuteNonQuery() != 1) return false;
        if (metadata is not null) MergeMetadata(transaction, subject, metadata);
        return true;
    });

    /// <inheritdoc/>
    public IReadOnlyList<long>? RemoveSubject(string subject) => Write(transaction =>
    {
        var ids = new List<long>();
        using (var select = Command(transaction, "SELECT f.id FROM faces f JOIN subjects s ON s.id = f.subject WHERE s.name = $name", "$name"))
        {
            select.Parameters[0].Value = subject;
            using var reader = select.ExecuteReader();
            while (reader.Read()) ids.Add(reader.GetInt64(0));
        }
        using (var delete = Command(transaction, "DELETE FROM faces WHERE subject IN (SELECT id FROM subjects WHERE name = $name)", "$name"))
            delete.With(subject).ExecuteNonQuery();
        using (var delete = Command(transaction, "DELETE FROM subjects WHERE name = $name", "$name"))
            if (delete.With(subject).ExecuteNonQuery() == 0) return null;
        Log(transaction, ids, added: false);
        return (IReadOnlyList<long>?)ids;
    });

    private void Log(SqliteTransaction transaction, List<long> ids, bool added)
    {
        if (!_logged || ids.Count == 0) return;
        using var log = Command(transaction, "INSERT INTO changes(face_id, added) VALUES ($id, $added)", "$id", "$added");
        log.Parameters[1].Value = added ? 1 : 0;
        foreach (long id in ids) log.With(id).ExecuteNonQuery();
    }

    /// <inheritdoc/>
    public void SetMetadata(string subject, IReadOnlyDictionary<string, string?> metadata) => Write(transaction => MergeMetadata(transaction, subject, metadata));

    private int MergeMetadata(SqliteTransaction transaction, string subject, IReadOnlyDictionary<string, string?> metadata)
    {
        using var select = Command(transaction, "SELECT metadata FROM subjects WHERE name = $name", "$name");
        string json = select.With(subject).ExecuteScalar() as string ?? throw new KeyNotFoundException($"{Location}: no subject '{subject}'.");
        var merged = JsonSerializer.Deserialize<Dictionary<string, string>>(json) ?? [];
        foreach (var (key, value) in metadata)
        {
            if (value is null) merged.Remove(key);
            else merged[key] = value;
        }
        using var update = Command(transaction, "UPDATE subjects SET metadata = $metadata WHERE name = $name", "$metadata", "$name");
        update.Parameters[0].Value = JsonSerializer.Serialize(merged);
        update.Parameters[1].Value = subject;
        update.ExecuteNonQuery();
        return 0;
    }

    /// <inheritdoc/>
    public IReadOnlyList<GallerySubject> Subjects(string? subject = null) => Guard(Location, () =>
    {
        using var command = _connection.CreateCommand();
        command.CommandText = "SELECT s.name, s.metadata, (SELECT COUNT(*) FROM faces f WHERE f.subject = s.id) FROM subjects s"
            + (subject is null ? "" : " WHERE s.name = $name") + " ORDER BY s.name";
        if (subject is not null) command.Parameters.AddWithValue("$name", subject);
        using var reader = command.ExecuteReader();
        var subjects = new List<GallerySubject>();
        while (reader.Read())
        {
            Dictionary<string, string> metadata;
            try
            {
                metadata = JsonSerializer.Deserialize<Dictionary<string, string>>(reader.GetString(1)) ?? [];
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{Location}: subject '{reader.GetString(0)}': metadata is not a JSON object of strings ({e.Message}).", e);
            }
            subjects.Add(new GallerySubject(reader.GetString(0), reader.GetInt32(2), metadata));
        }
        return subjects;
    });

    /// <inheritdoc/>
    public void SetThreshold(double? threshold, double? fpir)
    {
        Write(transaction =>
        {
            SetMeta(_connection, "threshold", GalleryHeader.Number(threshold), transaction);
            SetMeta(_connection, "threshold_fpir", GalleryHeader.Number(fpir), transaction);
            return 0;
        });
        Header = Header with { Threshold = threshold, ThresholdFpir = fpir };
    }

    /// <inheritdoc/>
    public void Dispose() => _connection.Dispose();

    // shown: the path errors name (a gallery being created is written under a temporary name).
    private static SqliteConnection Connect(string path, SqliteOpenMode mode, GalleryOpenOptions? options, string? shown = null)
    {
        var builder = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = mode,
            // Closing must release the file (tests reopen and delete it; a pool would keep it open).
            Pooling = false,
            DefaultTimeout = Math.Max(1, (int)Math.Ceiling((options ?? new GalleryOpenOptions()).LockTimeout.TotalSeconds)),
            ForeignKeys = true,
        };
        var connection = new SqliteConnection(builder.ToString());
        try
        {
            Guard(shown ?? path, () =>
            {
                connection.Open();
                Execute(connection, "PRAGMA journal_mode=DELETE; PRAGMA synchronous=FULL;");
                return 0;
            });
        }
        catch
        {
            connection.Dispose();
            throw;
        }
        return connection;
    }

    /// <summary>Runs <paramref name="work"/> in one immediate (write-locking) transaction, committed only when it returns.</summary>
    private T Write<T>(Func<SqliteTransaction, T> work) => Guard(Location, () =>
    {
        using var transaction = _connection.BeginTransaction(deferred: false);
        // Looked for on every write, not only while this store knows none: a log dropped by hand is made again here.
        bool adding = !HasChangeLog(_connection, Location, transaction);
        bool wasLogged = _logged;
        string? wasId = _logId;
        if (adding)
        {
            string id = MakeChangeLog(_connection, transaction); // in this write's transaction: rolled back with it
            // A file without a log until now: this reader's sequence 0 is in step with the new log. A log that vanished
            // under a reader stays unknown to it, so its next refresh reads every face.
            if (!_logged) _logId = id;
        }
        _logged = true;
        try
        {
            var result = work(transaction);
            transaction.Commit();
            return result;
        }
        catch
        {
            (_logged, _logId) = (wasLogged, wasId);
            throw;
        }
    });

    private SqliteCommand Command(SqliteTransaction transaction, string sql, params string[] parameters)
    {
        var command = _connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (string name in parameters) command.Parameters.Add(new SqliteParameter { ParameterName = name });
        return command;
    }

    private static void SetMeta(SqliteConnection connection, string key, string? value, SqliteTransaction? transaction = null)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "INSERT INTO meta(key, value) VALUES ($key, $value) ON CONFLICT(key) DO UPDATE SET value = excluded.value";
        command.Parameters.AddWithValue("$key", key);
        command.Parameters.AddWithValue("$value", (object?)value ?? DBNull.Value);
        command.ExecuteNonQuery();
    }

    private static void Execute(SqliteConnection connection, string sql, SqliteTransaction? transaction = null)
    {
        using var command = connection.CreateCommand();
        if (transaction is not null) command.Transaction = transaction;
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    /// <summary>
    /// SQLite's errors as the gallery's, naming the file: a busy file is locked, a foreign or damaged one is invalid
    /// data, a full disk an I/O error, a file or folder that cannot be written an access error (the transaction is rolled
    /// back, so nothing of the change is in the file).
    /// </summary>
    private static T Guard<T>(string path, Func<T> work)
    {
        try
        {
            return work();
        }
        catch (SqliteException e) when (e.SqliteErrorCode is SqliteBusy or SqliteLocked)
        {
            throw new LockedException(path, null);
        }
        catch (SqliteException e) when (e.SqliteErrorCode == SqliteFull)
        {
            throw new IOException($"{path}: No space left on device (SQLite error 13): the change was not written, the gallery is as it was before it.", e);
        }
        catch (SqliteException e) when (e.SqliteErrorCode == SqliteReadOnly)
        {
            // SQLITE_READONLY_DBMOVED (1032): the file was renamed or replaced under this connection.
            string cause = e.SqliteExtendedErrorCode == 1032 ? "the file was moved or replaced while open" : "a read-only file or file system, or no permission";
            throw new UnauthorizedAccessException($"{path}: cannot be written ({Sqlite(e)}): {cause}; nothing was changed.", e);
        }
        catch (SqliteException e) when (e.SqliteErrorCode == SqliteCantOpen)
        {
            throw new UnauthorizedAccessException($"{path}: cannot be opened ({Sqlite(e)}): a read-only or missing folder, no permission, or too many open files.", e);
        }
        catch (SqliteException e) when (e.SqliteErrorCode is SqliteNotADatabase or SqliteCorrupt)
        {
            throw new InvalidDataException($"{path}: not a FaceForge gallery (not a readable SQLite database: {e.Message.TrimEnd('.')}).", e);
        }
        catch (SqliteException e) when (e.SqliteErrorCode is SqliteError or SqliteConstraint)
        {
            // FaceForge's statements are fixed: one that fails on the schema (no such table or column, a view in a table's
            // place, a constraint or trigger it never made) means tables that are not, or no longer, as a gallery has them.
            throw new InvalidDataException($"{path}: an SQLite database but not a FaceForge gallery, or one whose tables were changed by hand ({e.Message.Replace("SQLite Error 1: ", "", StringComparison.Ordinal).TrimEnd('.')}).", e);
        }
    }

    /// <summary>SQLite's message as a clause: "SQLite error 8: 'attempt to write a readonly database'".</summary>
    private static string Sqlite(SqliteException e) => e.Message.Replace("SQLite Error", "SQLite error", StringComparison.Ordinal).TrimEnd('.');
}

/// <summary>Fills a one-parameter command.</summary>
file static class CommandExtensions
{
    public static SqliteCommand With(this SqliteCommand command, object value)
    {
        command.Parameters[0].Value = value;
        return command;
    }
}
