using System.Security.Cryptography;
using System.Text;

namespace FaceForge.Server;

/// <summary>
/// The API keys file: one line per key, "ffk1 ID SCOPE SHA256", never the key itself. A key reads
/// "ff_ID_SECRET"; the id picks its line (and names the key in rate limits and logs), the SHA-256 of the whole key
/// is compared in constant time.
/// </summary>
/// <remarks>Immutable once loaded; thread-safe.</remarks>
public sealed class ApiKeyFile
{
    private const string Magic = "ffk1";
    private readonly Dictionary<string, (ApiScope Scope, byte[] Hash)> _keys;

    private ApiKeyFile(Dictionary<string, (ApiScope, byte[])> keys) => _keys = keys;

    /// <summary>How many keys the file holds.</summary>
    public int Count => _keys.Count;

    /// <summary>Reads a keys file.</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">A line is not a key record (its number is named).</exception>
    public static ApiKeyFile Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Keys file '{path}' does not exist; create keys with 'faceforge keys create --file {path} --scope read'.", path);
        var keys = new Dictionary<string, (ApiScope, byte[])>(StringComparer.Ordinal);
        int number = 0;
        foreach (string line in File.ReadLines(path))
        {
            number++;
            if (line.Length == 0 || line.StartsWith('#')) continue;
            var parts = line.Split(' ');
            if (parts.Length != 4 || parts[0] != Magic || !TryScope(parts[2], out var scope) || parts[3].Length != 64)
                throw new InvalidDataException($"{path}:{number}: not a key record (expected '{Magic} ID read|write|admin SHA256').");
            byte[] hash;
            try
            {
                hash = Convert.FromHexString(parts[3]);
            }
            catch (FormatException)
            {
                throw new InvalidDataException($"{path}:{number}: the hash is not hexadecimal.");
            }
            keys[parts[1]] = (scope, hash);
        }
        return new ApiKeyFile(keys);
    }

    /// <summary>
    /// Makes a new key of <paramref name="scope"/>, appends its record to <paramref name="path"/> (created readable
    /// by its owner only) and returns the key: the only time it is ever shown.
    /// </summary>
    public static string Create(string path, ApiScope scope)
    {
        string id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
        string key = $"ff_{id}_{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32))}";
        string record = $"{Magic} {id} {scope.ToString().ToLowerInvariant()} {Convert.ToHexStringLower(Hash(key))}\n";
        bool created = !File.Exists(path);
        if (created)
        {
            File.WriteAllText(path, "# FaceForge API keys: ffk1 ID SCOPE SHA256(key). Keys themselves are never stored.\n");
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        else
        {
            Load(path); // refuse to append to something that is not a keys file
        }
        // Appending keeps every key already written, even if this process dies mid-write (a torn last line is refused on load).
        File.AppendAllText(path, record);
        return key;
    }

    /// <summary>The key's id and scope when <paramref name="key"/> is valid, else null.</summary>
    public (string Id, ApiScope Scope)? Check(string? key)
    {
        if (string.IsNullOrEmpty(key) || key.Length > 200) return null;
        var parts = key.Split('_');
        byte[] hash = Hash(key);
        if (parts.Length == 3 && parts[0] == "ff" && _keys.TryGetValue(parts[1], out var entry))
            return CryptographicOperations.FixedTimeEquals(hash, entry.Hash) ? (parts[1], entry.Scope) : null;
        // Unknown id: compare anyway so a miss costs what a hit costs.
        CryptographicOperations.FixedTimeEquals(hash, new byte[32]);
        return null;
    }

    /// <summary>Parses read|write|admin.</summary>
    public static bool TryScope(string text, out ApiScope scope)
    {
        scope = text switch { "read" => ApiScope.Read, "write" => ApiScope.Write, "admin" => ApiScope.Admin, _ => 0 };
        return scope != 0;
    }

    private static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));
}
