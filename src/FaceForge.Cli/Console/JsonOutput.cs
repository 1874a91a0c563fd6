using System.Text.Json;
using System.Text.Json.Serialization;

namespace FaceForge.Cli;

/// <summary>Writes results as indented JSON with snake_case keys and text unescaped where JSON allows (UTF-8 names as they are).</summary>
internal static class JsonOutput
{
    public static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DictionaryKeyPolicy = null,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        // Names as people write them ("José Álvarez", "it's"), not \u00E9 and \u0027: the output goes to a terminal or a
        // JSON parser, never into HTML, where the default encoder's escaping would matter.
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static void Write(TextWriter output, object value) => output.WriteLine(JsonSerializer.Serialize(value, Options));
}
