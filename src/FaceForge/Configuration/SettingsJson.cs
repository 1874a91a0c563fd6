using System.Text.Json;
using System.Text.Json.Serialization;

namespace FaceForge.Configuration;

/// <summary>How config records are read and written: snake_case keys; unknown or repeated keys are errors.</summary>
public static class SettingsJson
{
    /// <summary>The serializer options of every config file.</summary>
    public static JsonSerializerOptions Options { get; } = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        AllowDuplicateProperties = false,
        WriteIndented = true,
    };

    /// <summary>The JSON key of a property.</summary>
    public static string Key(string propertyName) => JsonNamingPolicy.SnakeCaseLower.ConvertName(propertyName);

    /// <summary>Reads a config file; unknown keys and bad values fail with the file and key named.</summary>
    public static T Load<T>(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<T>(File.ReadAllText(path), Options) ?? throw new InvalidDataException($"{path}: empty config.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: {Describe(e)}", e);
        }
    }

    /// <summary>A JSON error in a person's words: without .NET type names.</summary>
    public static string Describe(JsonException e) =>
        System.Text.RegularExpressions.Regex.Replace(e.Message, @" (during deserialization )?(of|on) type '[^']*'", "").Replace("The JSON property", "The key", StringComparison.Ordinal);

    /// <summary>The config as indented JSON.</summary>
    public static string Write<T>(T config) => JsonSerializer.Serialize(config, Options);
}
