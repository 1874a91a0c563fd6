using System.Text.Json;
using System.Text.Json.Serialization;

namespace FaceForge.Configuration;

/// <summary>Numbers beyond double's range (1e400) read as infinity, which no setting means and JSON cannot write back.</summary>
internal sealed class FiniteDoubleConverter : JsonConverter<double>
{
    internal const string Message = "must be a finite number";

    public override double Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        double value = reader.GetDouble();
        return double.IsFinite(value) ? value : throw new JsonException($"{Message} (got {System.Text.Encoding.UTF8.GetString(reader.ValueSpan)}).");
    }

    public override void Write(Utf8JsonWriter writer, double value, JsonSerializerOptions options) => writer.WriteNumberValue(value);
}
