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
        Converters = { new FiniteDoubleConverter() },
    };

    /// <summary>Starts the message of an enum value no spelling matches (<see cref="SettingEnumConverter{T}"/>).</summary>
    internal const string NotOneOfMarker = "must be one of: ";

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
    public static string Describe(JsonException e)
    {
        string key = e.Path is { Length: > 2 } path ? path.TrimStart('$', '.') : "";
        string message = e.Message;
        if (message.StartsWith(NotOneOfMarker, StringComparison.Ordinal) || message.StartsWith(FiniteDoubleConverter.Message, StringComparison.Ordinal))
            return key.Length == 0 ? $"a value {message}" : $"key '{key}' {message}";
        if (message.Contains("could not be mapped to any .NET member", StringComparison.Ordinal))
            return System.Text.RegularExpressions.Regex.Replace(message, @"The JSON property '([^']*)' could not be mapped.*", "unknown key '$1'.");
        if (message.Contains("could not be converted to", StringComparison.Ordinal))
        {
            string expected = System.Text.RegularExpressions.Regex.Match(message, @"converted to ([\w.`\[\]]+)").Groups[1].Value switch
            {
                var t when t.Contains("Int32", StringComparison.Ordinal) || t.Contains("Int64", StringComparison.Ordinal) => "a whole number",
                var t when t.Contains("Double", StringComparison.Ordinal) || t.Contains("Single", StringComparison.Ordinal) => "a number",
                var t when t.Contains("Boolean", StringComparison.Ordinal) => "true or false",
                var t when t.Contains("String", StringComparison.Ordinal) => "a string",
                var t when t.Contains("[]", StringComparison.Ordinal) => "a list",
                _ => key.Length == 0 ? "an object with the config's keys" : "one of the key's accepted values",
            };
            return key.Length == 0 ? $"expected {expected}." : $"key '{key}' must be {expected}.";
        }
        if (System.Text.RegularExpressions.Regex.Match(message, @"Duplicate property '([^']*)'") is { Success: true } twice)
            return $"key '{twice.Groups[1].Value}' appears twice.";
        if (System.Text.RegularExpressions.Regex.Match(message, @"missing required properties including: (.*?)\.?$") is { Success: true } missing)
            return $"missing key(s) {missing.Groups[1].Value}.";
        if (message.Contains("isFinalBlock", StringComparison.Ordinal) || message.Contains("does not contain any JSON tokens", StringComparison.Ordinal))
            return "empty or cut short (no complete JSON value).";
        // "… Path: $.x | LineNumber: 2 | BytePositionInLine: 7." reads as a place in the text.
        message = System.Text.RegularExpressions.Regex.Replace(message, @"\s*Path: \S*\s*\|\s*LineNumber: (\d+)\s*\|\s*BytePositionInLine: (\d+)\.?",
            m => $" (line {int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) + 1}, byte {int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture) + 1})");
        message = System.Text.RegularExpressions.Regex.Replace(message, @" (during deserialization )?(of|on) type '[^']*'", "");
        return System.Text.RegularExpressions.Regex.Replace(message, @"(\.NET|System\.)[\w.`\[\]]*", "").Trim();
    }

    /// <summary>The config as indented JSON.</summary>
    public static string Write<T>(T config) => JsonSerializer.Serialize(config, Options);
}
