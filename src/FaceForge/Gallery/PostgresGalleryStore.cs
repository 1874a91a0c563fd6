using System.Globalization;
using System.Text.Json;
using Npgsql;

namespace FaceForge.Gallery;

/// <summary>
/// A gallery in a PostgreSQL database, shared by processes and machines: tables gallery_meta, gallery_subjects,
/// gallery_faces and gallery_changes in the connection's schema (search path), so one database can hold several
/// galleries, one per schema. Each write is one transaction that first locks the change log, so writers take turns
/// and change sequence numbers grow in commit order (a reader never skips a change committed late).
/// </summary>
/// <remarks>Not thread-safe (one connection); <see cref="FaceGallery"/> serialises calls.</remarks>
public sealed class PostgresGalleryStore : ISharedGalleryStore
{
    private const string UndefinedTable = "42P01", LockNotAvailable = "55P03";

    private readonly NpgsqlConnection _connection;

    private PostgresGalleryStore(string location, NpgsqlConnection connection, GalleryHeader header)
    {
        Location = location;
        _connection = connection;
        Header = header;
    }

    /// <inheritdoc/>
    public string Location { get; }

    /// <inheritdoc/>
    public GalleryHeader Header { get; private set; }

    /// <inheritdoc/>
    public long LoadedSequence { get; private set; }

    // The log's row at the sequence this store last read up to: a log emptied by hand and refilled since has, at that
    // number, another row (or none).
    private (long Sequence, long FaceId, bool Added)? _lastRow;

    // Every face read (ReadFaceRows's columns), before an optional WHERE and the ORDER BY.
    private const string FaceRows = "SELECT f.id, s.name, f.vector, f.quality, f.source FROM gallery_faces f JOIN gallery_subjects s ON s.id = f.subject ";

    private long LastSequence(NpgsqlTransaction transaction)
    {
        using var command = new NpgsqlCommand("SELECT COALESCE(MAX(seq), 0) FROM gallery_changes", _connection, transaction);
        return (long)command.ExecuteScalar()!;
    }

    private (long, long, bool)? RowAt(long sequence, NpgsqlTransaction transaction)
    {
        if (sequence <= 0) return null;
        using var command = new NpgsqlCommand("SELECT face_id, added FROM gallery_changes WHERE seq = $1", _connection, transaction);
        command.Parameters.Add(new NpgsqlParameter { Value = sequence });
        using var reader = command.ExecuteReader();
        return reader.Read() ? (sequence, reader.GetInt64(0), reader.GetBoolean(1)) : null;
    }

    /// <summary>Whether <paramref name="location"/> names a PostgreSQL gallery: a postgres:// or postgresql:// URI, or an Npgsql connection string (Host=…).</summary>
    public static bool IsLocation(string location) =>
        location.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) || location.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase)
        || location.Contains("Host=", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// An Npgsql connection string for <paramref name="location"/>: a URI postgres://user:password@host:port/database?schema=S
    /// (host may be a socket folder, URL-encoded, or given as ?host=), or a connection string as is.
    /// </summary>
    /// <exception cref="ArgumentException">Not a PostgreSQL location.</exception>
    public static NpgsqlConnectionStringBuilder ConnectionString(string location)
    {
        if (!location.Contains("://", StringComparison.Ordinal))
        {
            try
            {
                return new NpgsqlConnectionStringBuilder(location);
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException($"'{location}' is not a PostgreSQL connection string ({e.Message}).", nameof(location), e);
            }
        }
        if (!Uri.TryCreate(location, UriKind.Absolute, out var uri) || !IsLocation(location))
            throw new ArgumentException($"'{location}' is not a postgres://user@host:port/database URI.", nameof(location));
        var builder = new NpgsqlConnectionStringBuilder();
        if (uri.Host.Length > 0) builder.Host = Uri.UnescapeDataString(uri.Host);
        if (uri.Port > 0) builder.Port = uri.Port;
        string[] user = uri.UserInfo.Split(':', 2);
        if (user[0].Length > 0) builder.Username = Uri.UnescapeDataString(user[0]);
        if (user.Length > 1) builder.Password = Uri.UnescapeDataString(user[1]);
        string database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/'));
        if (database.Length > 0) builder.Database = database;
        foreach (string pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] kv = pair.Split('=', 2);
            string value = kv.Length > 1 ? Uri.UnescapeDataString(kv[1]) : "";
            switch (kv[0].ToLowerInvariant())
            {
                case "schema" or "search_path": builder.SearchPath = value; break;
                case "host": builder.Host = value; break;
                case "port": builder.Port = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "user": builder.Username = value; break;
                default: throw new ArgumentException($"'{location}': unknown parameter '{kv[0]}' (known: schema, host, port, user).", nameof(location));
            }
        }
        return builder;
    }

    /// <summary>Creates the gallery's tables at <paramref name="location"/> in one transaction.</summary>
    /// <exception cref="IOException">A gallery exists there and <paramref name="overwrite"/> is false.</exception>
    /// <exception cref="GalleryUnavailableException">The server cannot be reached.</exception>
    public static PostgresGalleryStore Create(string location, GalleryHeader header, bool overwrite, GalleryOpenOptions? options = null)
    {
        var connection = Connect(location, options, out string display);
        try
        {
            Guard(display, () =>
            {
                using var transaction = connection.BeginTransaction();
                if (ConnectionString(location).SearchPath is { Length: > 0 } schema)
                {
                    if (!System.Text.RegularExpressions.Regex.IsMatch(schema, "^[A-Za-z_][A-Za-z0-9_]{0,62}$"))
                        throw new ArgumentException($"{display}: schema '{schema}' is not a plain identifier (letters, digits, underscores).", nameof(location));
                    Execute(connection, transaction, $"CREATE SCHEMA IF NOT EXISTS {schema}"); // unquoted: folded to lower case like the search path
                }
                if (Exists(connection) && !overwrite) throw new IOException($"{display} already holds a gallery; a gallery is only replaced when asked to overwrite it.");
                Execute(connection, transaction, """
                    DROP TABLE IF EXISTS gallery_changes, gallery_faces, gallery_subjects, gallery_meta;
                    CREATE TABLE gallery_meta (key TEXT PRIMARY KEY, value TEXT);
                    CREATE TABLE gallery_subjects (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL UNIQUE, metadata TEXT NOT NULL DEFAULT '{}');
                    CREATE TABLE gallery_faces (id BIGSERIAL PRIMARY KEY, subject BIGINT NOT NULL REFERENCES gallery_subjects(id) ON DELETE CASCADE,
                        vector BYTEA NOT NULL, quality DOUBLE PRECISION, source TEXT);
                    CREATE INDEX gallery_faces_subject ON gallery_faces(subject);
                    CREATE TABLE gallery_changes (seq BIGSERIAL PRIMARY KEY, face_id BIGINT NOT NULL, added BOOLEAN NOT NULL);
                    """);
                var meta = header.ToMeta();
                foreach (var (key, value) in meta) SetMeta(connection, transaction, key, value);
                transaction.Commit();
                return 0;
            });
        }
        finally
        {
            connection.Dispose();
        }
        return Open(location, options);
    }

    /// <summary>Opens the gallery at <paramref name="location"/>.</summary>
    /// <exception cref="InvalidDataException">The database holds no FaceForge gallery in that schema.</exception>
    /// <exception cref="GalleryUnavailableException">The server cannot be reached.</exception>
    public static PostgresGalleryStore Open(string location, GalleryOpenOptions? options = null)
    {
        var connection = Connect(location, options, out string display);
        try
        {
            var header = Guard(display, () =>
            {
                if (!Exists(connection)) throw new InvalidDataException($"{display}: no FaceForge gallery here (no gallery_meta table in the schema; create one with 'faceforge gallery create').");
                return ReadHeader(connection, display);
            });
            return new PostgresGalleryStore(display, connection, header);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public IEnumerable<StoredFace> ReadFaces()
    {
        // One snapshot for the faces and the sequence number they are consistent with.
        using var transaction = Guard(Location, () => _connection.BeginTransaction(System.Data.IsolationLevel.RepeatableRead));
        LoadedSequence = Guard(Location, () => LastSequence(transaction));
        _lastRow = Guard(Location, () => RowAt(LoadedSequence, transaction));
        using var command = new NpgsqlCommand(FaceRows + "ORDER BY f.id", _connection, transaction);
        foreach (var face in ReadFaceRows(command)) yield return face;
        transaction.Commit();
    }

    /// <inheritdoc/>
    public GalleryChanges ChangesSince(long sequence) => Guard(Location, () =>
    {
        using var transaction = _connection.BeginTransaction(System.Data.IsolationLevel.RepeatableRead);
        long last = sequence;
        var removed = new List<long>();
        var added = new List<long>();
        if (sequence > 0 && RowAt(sequence, transaction) != _lastRow)
        {
            // The row at the reader's number is gone (the log now numbers below it) or another one (emptied, its
            // sequence restarted by hand and refilled): what changed since is unknown, so every face is read.
            long newest = LastSequence(transaction);
            using var all = new NpgsqlCommand(FaceRows + "ORDER BY f.id", _connection, transaction);
            var every = ReadFaceRows(all).ToList();
            _lastRow = RowAt(newest, transaction);
            Header = ReadHeader(_connection, Location, transaction);
            transaction.Commit();
            return new GalleryChanges(every, [], newest, Header, Reset: true);
        }
        using (var changes = new NpgsqlCommand("SELECT seq, face_id, added FROM gallery_changes WHERE seq > $1 ORDER BY seq", _connection, transaction))
        {
            changes.Parameters.Add(new NpgsqlParameter { Value = sequence });
            using var reader = changes.ExecuteReader();
            while (reader.Read())
            {
                last = reader.GetInt64(0);
                (reader.GetBoolean(2) ? added : removed).Add(reader.GetInt64(1));
            }
        }
        var faces = new List<StoredFace>();
        if (added.Count > 0)
        {
            using var command = new NpgsqlCommand(FaceRows + "WHERE f.id = ANY($1) ORDER BY f.id", _connection, transaction);
            command.Parameters.Add(new NpgsqlParameter { Value = added.ToArray() });
            faces.AddRange(ReadFaceRows(command));
        }
        _lastRow = RowAt(last, transaction);
        Header = ReadHeader(_connection, Location, transaction);
        transaction.Commit();
        return new GalleryChanges(faces, removed, last, Header);
    });

    /// <inheritdoc/>
    public IReadOnlyList<long> AddFaces(IReadOnlyList<GalleryFace> faces, IReadOnlyDictionary<string, IReadOnlyDictionary<string, string?>>? metadata = null) => Write(transaction =>
    {
        var subjects = new Dictionary<string, long>(StringComparer.Ordinal);
        var ids = new List<long>(faces.Count);
        foreach (var face in faces)
        {
            if (!subjects.TryGetValue(face.Subject, out long subject))
            {
                using var upsert = new NpgsqlCommand(
                    "INSERT INTO gallery_subjects(name) VALUES ($1) ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id", _connection, transaction);
                upsert.Parameters.Add(new NpgsqlParameter { Value = face.Subject });
                subjects[face.Subject] = subject = (long)upsert.ExecuteScalar()!;
            }
            using var add = new NpgsqlCommand("INSERT INTO gallery_faces(subject, vector, quality, source) VALUES ($1, $2, $3, $4) RETURNING id", _connection, transaction);
            add.Parameters.Add(new NpgsqlParameter { Value = subject });
            add.Parameters.Add(new NpgsqlParameter { Value = VectorCodec.Encode(face.Vector, Header.Options.Precision) });
            add.Parameters.Add(new NpgsqlParameter { Value = face.Quality is double q ? q : DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Double });
            add.Parameters.Add(new NpgsqlParameter { Value = (object?)face.Source ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
            ids.Add((long)add.ExecuteScalar()!);
        }
        if (metadata is not null) foreach (var (name, values) in metadata) MergeMetadata(transaction, name, values);
        Log(transaction, ids, added: true);
        return ids;
    });

    /// <inheritdoc/>
    public bool AddSubject(string subject, IReadOnlyDictionary<string, string?>? metadata = null) => Write(transaction =>
    {
        using var add = new NpgsqlCommand("INSERT INTO gallery_subjects(name) VALUES ($1) ON CONFLICT (name) DO NOTHING", _connection, transaction);
        add.Parameters.Add(new NpgsqlParameter { Value = subject });
        if (add.ExecuteNonQuery() != 1) return false;
        if (metadata is not null) MergeMetadata(transaction, subject, metadata);
        return true;
    });

    /// <inheritdoc/>
    public IReadOnlyList<long>? RemoveSubject(string subject) => Write(transaction =>
    {
        var ids = new List<long>();
        using (var delete = new NpgsqlCommand("DELETE FROM gallery_faces WHERE subject IN (SELECT id FROM gallery_subjects WHERE name = $1) RETURNING id", _connection, transaction))
        {
            delete.Parameters.Add(new NpgsqlParameter { Value = subject });
            using var reader = delete.ExecuteReader();
            while (reader.Read()) ids.Add(reader.GetInt64(0));
        }
        using (var delete = new NpgsqlCommand("DELETE FROM gallery_subjects WHERE name = $1", _connection, transaction))
        {
            delete.Parameters.Add(new NpgsqlParameter { Value = subject });
            if (delete.ExecuteNonQuery() == 0) return null;
        }
        Log(transaction, ids, added: false);
        return (IReadOnlyList<long>?)ids;
    });

    /// <inheritdoc/>
    public void SetMetadata(string subject, IReadOnlyDictionary<string, string?> metadata) => Write(transaction => MergeMetadata(transaction, subject, metadata));

    private int MergeMetadata(NpgsqlTransaction transaction, string subject, IReadOnlyDictionary<string, string?> metadata)
    {
        using var select = new NpgsqlCommand("SELECT metadata FROM gallery_subjects WHERE name = $1 FOR UPDATE", _connection, transaction);
        select.Parameters.Add(new NpgsqlParameter { Value = subject });
        string json = select.ExecuteScalar() as string ?? throw new KeyNotFoundException($"{Location}: no subject '{subject}'.");
        var merged = JsonSerializer.Deserialize<Dictionary<string, string>>(json) ?? [];
        foreach (var (key, value) in metadata)
        {
            if (value is null) merged.Remove(key);
            else merged[key] = value;
        }
        using var update = new NpgsqlCommand("UPDATE gallery_subjects SET metadata = $1 WHERE name = $2", _connection, transaction);
        update.Parameters.Add(new NpgsqlParameter { Value = JsonSerializer.Serialize(merged) });
        update.Parameters.Add(new NpgsqlParameter { Value = subject });
        update.ExecuteNonQuery();
        return 0;
    }

    /// <inheritdoc/>
    public IReadOnlyList<GallerySubject> Subjects(string? subject = null) => Guard(Location, () =>
    {
        using var command = new NpgsqlCommand("SELECT s.name, s.metadata, (SELECT COUNT(*) FROM gallery_faces f WHERE f.subject = s.id) FROM gallery_subjects s"
            + (subject is null ? "" : " WHERE s.name = $1") + " ORDER BY s.name COLLATE \"C\"", _connection);
        if (subject is not null) command.Parameters.Add(new NpgsqlParameter { Value = subject });
        using var reader = command.ExecuteReader();
        var subjects = new List<GallerySubject>();
        while (reader.Read())
            subjects.Add(new GallerySubject(reader.GetString(0), (int)reader.GetInt64(2), JsonSerializer.Deserialize<Dictionary<string, string>>(reader.GetString(1)) ?? []));
        return subjects;
    });

    /// <inheritdoc/>
    public void SetThreshold(double? threshold, double? fpir)
    {
        Write(transaction =>
        {
            SetMeta(_connection, transaction, "threshold", GalleryHeader.Number(threshold));
            SetMeta(_connection, transaction, "threshold_fpir", GalleryHeader.Number(fpir));
            return 0;
        });
        Header = Header with { Threshold = threshold, ThresholdFpir = fpir };
    }

    /// <inheritdoc/>
    public void Dispose() => _connection.Dispose();

    private static NpgsqlConnection Connect(string location, GalleryOpenOptions? options, out string display)
    {
        var builder = ConnectionString(location);
        display = $"postgres://{builder.Username}@{builder.Host}:{builder.Port}/{builder.Database}" + (builder.SearchPath is { Length: > 0 } s ? $"?schema={s}" : "");
        builder.Pooling = false;
        builder.Timeout = Math.Max(1, (int)Math.Ceiling((options ?? new GalleryOpenOptions()).LockTimeout.TotalSeconds));
        var connection = new NpgsqlConnection(builder.ToString());
        string shown = display;
        try
        {
            Guard(shown, () =>
            {
                connection.Open();
                using var command = new NpgsqlCommand($"SET lock_timeout = {(int)(options ?? new GalleryOpenOptions()).LockTimeout.TotalMilliseconds}", connection);
                command.ExecuteNonQuery();
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

    private static bool Exists(NpgsqlConnection connection)
    {
        using var command = new NpgsqlCommand("SELECT to_regclass('gallery_meta') IS NOT NULL", connection);
        return (bool)command.ExecuteScalar()!;
    }

    private static GalleryHeader ReadHeader(NpgsqlConnection connection, string display, NpgsqlTransaction? transaction = null)
    {
        var values = new Dictionary<string, string?>();
        using var command = new NpgsqlCommand("SELECT key, value FROM gallery_meta", connection, transaction);
        using var reader = command.ExecuteReader();
        while (reader.Read()) values[reader.GetString(0)] = reader.IsDBNull(1) ? null : reader.GetString(1);
        return GalleryHeader.FromMeta(display, values);
    }

    private IEnumerable<StoredFace> ReadFaceRows(NpgsqlCommand command)
    {
        var model = Header.Model;
        using var reader = Guard(Location, () => command.ExecuteReader());
        while (Guard(Location, reader.Read))
        {
            long id = reader.GetInt64(0);
            var blob = (byte[])reader.GetValue(2);
            var vector = VectorCodec.Decode(blob, model.EmbeddingSize, Header.Options.Precision)
                ?? throw new InvalidDataException($"{Location}: face {id}: vector of {blob.Length} bytes, expected {model.EmbeddingSize} {Header.Options.Precision.ToString().ToLowerInvariant()} values.");
            yield return new StoredFace(id, reader.GetString(1), vector, reader.IsDBNull(3) ? null : reader.GetDouble(3), reader.IsDBNull(4) ? null : reader.GetString(4));
        }
    }

    private void Log(NpgsqlTransaction transaction, List<long> ids, bool added)
    {
        if (ids.Count == 0) return;
        using var log = new NpgsqlCommand("INSERT INTO gallery_changes(face_id, added) SELECT unnest($1::bigint[]), $2", _connection, transaction);
        log.Parameters.Add(new NpgsqlParameter { Value = ids.ToArray() });
        log.Parameters.Add(new NpgsqlParameter { Value = added });
        log.ExecuteNonQuery();
    }

    /// <summary>One transaction that first takes the change log's write lock: writers take turns, sequence numbers follow commit order.</summary>
    private T Write<T>(Func<NpgsqlTransaction, T> work) => Guard(Location, () =>
    {
        using var transaction = _connection.BeginTransaction();
        using (var take = new NpgsqlCommand("LOCK TABLE gallery_changes IN EXCLUSIVE MODE", _connection, transaction)) take.ExecuteNonQuery();
        var result = work(transaction);
        transaction.Commit();
        return result;
    });

    private static void SetMeta(NpgsqlConnection connection, NpgsqlTransaction transaction, string key, string? value)
    {
        using var command = new NpgsqlCommand("INSERT INTO gallery_meta(key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", connection, transaction);
        command.Parameters.Add(new NpgsqlParameter { Value = key });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)value ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        command.ExecuteNonQuery();
    }

    private static void Execute(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql)
    {
        using var command = new NpgsqlCommand(sql, connection, transaction);
        command.ExecuteNonQuery();
    }


    /// <summary>The client's errors as the gallery's: a lock wait past the timeout is locked, an unreachable server unavailable, a missing table invalid data.</summary>
    private static T Guard<T>(string display, Func<T> work)
    {
        try
        {
            return work();
        }
        catch (PostgresException e) when (e.SqlState == LockNotAvailable)
        {
            throw new LockedException(display, null);
        }
        catch (PostgresException e) when (e.SqlState == UndefinedTable)
        {
            throw new InvalidDataException($"{display}: not a FaceForge gallery ({e.MessageText}).", e);
        }
        catch (NpgsqlException e) when (e is not PostgresException)
        {
            throw new GalleryUnavailableException(display, e.InnerException?.Message ?? e.Message, e);
        }
        catch (PostgresException e) when (e.SqlState.StartsWith("28", StringComparison.Ordinal) || e.SqlState == "3D000")
        {
            throw new GalleryUnavailableException(display, e.MessageText, e);
        }
    }
}
