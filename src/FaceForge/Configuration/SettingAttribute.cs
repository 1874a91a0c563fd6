namespace FaceForge.Configuration;

/// <summary>
/// Declares a property of a config record as a setting: its key (the property name in snake_case), its default
/// (the property's initial value) and this description are all the command line needs to bind it, so a setting is
/// written once.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class SettingAttribute(string description) : Attribute
{
    /// <summary>What the setting does, as --help shows it.</summary>
    public string Description { get; } = description;

    /// <summary>The command-line name when it is not the key in kebab case (e.g. "--lr" for learning_rate).</summary>
    public string? Option { get; init; }

    /// <summary>A file or folder: a new run stores it absolute, so the run resumes from any working directory.</summary>
    public bool IsPath { get; init; }

    /// <summary>A dataset of identity sub-folders: a run folder inside it would be read back as an identity without images.</summary>
    public bool IsIdentityFolders { get; init; }
}

/// <summary>The command-line spelling of an enum value when it is not the name in kebab case (e.g. "fp16" for Float16).</summary>
[AttributeUsage(AttributeTargets.Field)]
public sealed class SettingValueAttribute(string name) : Attribute
{
    /// <summary>The spelling.</summary>
    public string Name { get; } = name;

    /// <summary>The value of <paramref name="enumType"/> that <paramref name="text"/> spells (any spelling, any case), or null.</summary>
    public static System.Reflection.FieldInfo? Find(Type enumType, string? text) =>
        text is null ? null : enumType.GetFields(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static)
            .FirstOrDefault(f => Spellings(f).Any(s => s.Equals(text, StringComparison.OrdinalIgnoreCase)));

    /// <summary>The preferred spelling of each value of <paramref name="enumType"/>, as --help and error messages list them.</summary>
    public static IEnumerable<string> Preferred(Type enumType) =>
        enumType.GetFields(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static).Select(f => Spellings(f)[0]);

    /// <summary>A field's spellings, preferred first: its [SettingValue], its name in kebab case, its name.</summary>
    public static string[] Spellings(System.Reflection.FieldInfo field)
    {
        string kebab = System.Text.Json.JsonNamingPolicy.KebabCaseLower.ConvertName(field.Name);
        return System.Reflection.CustomAttributeExtensions.GetCustomAttribute<SettingValueAttribute>(field) is { } value ? [value.Name, kebab, field.Name] : [kebab, field.Name];
    }
}
