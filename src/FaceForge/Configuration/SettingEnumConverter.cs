using System.Text.Json;
using System.Text.Json.Serialization;

namespace FaceForge.Configuration;

/// <summary>
/// Reads an enum setting from its name in any of the command line's spellings (<see cref="SettingValueAttribute"/>,
/// kebab case, the name; any case) and writes its name. Numbers are refused: with the stock converter `"head": 1`
/// silently meant CosFace and `"optimizer": 9` a value that does not exist.
/// </summary>
/// <typeparam name="T">The enum.</typeparam>
public sealed class SettingEnumConverter<T> : JsonConverter<T> where T : struct, Enum
{
    /// <inheritdoc/>
    public override T Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        string? text = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
        return SettingValueAttribute.Find(typeof(T), text) is { } field
            ? (T)field.GetValue(null)!
            : throw new JsonException($"{SettingsJson.NotOneOfMarker}{string.Join(", ", SettingValueAttribute.Preferred(typeof(T)))}.");
    }

    /// <inheritdoc/>
    public override void Write(Utf8JsonWriter writer, T value, JsonSerializerOptions options) => writer.WriteStringValue(value.ToString());
}
