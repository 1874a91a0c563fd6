using System.CommandLine;
using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using FaceForge.Configuration;

namespace FaceForge.Cli;

/// <summary>
/// Command-line options generated from a config record's <see cref="SettingAttribute"/> properties: the option's
/// name is the key in kebab case (or the attribute's), its help the description with the accepted values and the
/// default, and <see cref="Apply"/> writes the given values over a config through its JSON form, so the command
/// line, config files and config.json share one spelling and one validation.
/// </summary>
/// <typeparam name="T">The config record.</typeparam>
internal sealed class SettingsBinder<T> where T : new()
{
    private readonly List<(PropertyInfo Property, Option Option)> _bound = [];

    /// <summary>Generates an option for every setting of <typeparamref name="T"/>.</summary>
    public SettingsBinder()
    {
        var defaults = new T();
        foreach (var property in typeof(T).GetProperties())
        {
            if (property.GetCustomAttribute<SettingAttribute>() is not { } setting) continue;
            string name = setting.Option ?? OptionName(property);
            string description = setting.Description + Values(property.PropertyType) + Default(property.GetValue(defaults));
            Option option = Underlying(property.PropertyType) == typeof(bool)
                ? new Option<bool?>(name) { Description = description, Arity = ArgumentArity.ZeroOrOne }
                : new Option<string?>(name) { Description = description, HelpName = HelpName(property.PropertyType) };
            _bound.Add((property, option));
        }
    }

    /// <summary>The generated options, in the record's order.</summary>
    public IEnumerable<Option> Options => _bound.Select(b => b.Option);

    /// <summary>The option bound to <paramref name="propertyName"/>.</summary>
    public Option this[string propertyName] => _bound.Single(b => b.Property.Name == propertyName).Option;

    /// <summary>The command-line name of a setting (for messages).</summary>
    public string NameOf(string propertyName) => this[propertyName].Name;

    /// <summary><paramref name="config"/> with every option the command line gave written over it.</summary>
    /// <exception cref="UserErrorException">A value does not parse; the message names the option and what it accepts.</exception>
    public T Apply(ParseResult parse, T config)
    {
        var json = JsonSerializer.SerializeToNode(config, SettingsJson.Options)!.AsObject();
        foreach (var (property, option) in _bound)
        {
            if (parse.GetResult(option) is not { Implicit: false }) continue;
            string key = SettingsJson.Key(property.Name);
            string? text = option is Option<string?> textOption ? parse.GetValue(textOption) : null;
            // An empty value of an optional path ("--images ''") means "not given", as the settings' help says.
            bool optional = new NullabilityInfoContext().Create(property).WriteState == NullabilityState.Nullable;
            json[key] = option is Option<bool?> flag ? JsonValue.Create(parse.GetValue(flag) ?? true)
                : optional && property.PropertyType == typeof(string) && string.IsNullOrEmpty(text) ? null
                : Convert(option.Name, property.PropertyType, text);
        }
        try
        {
            return json.Deserialize<T>(SettingsJson.Options)!;
        }
        catch (JsonException e)
        {
            throw new UserErrorException(SettingsJson.Describe(e));
        }
    }

    /// <summary>The path settings <paramref name="config"/> gives, with their options (only datasets of identity folders with <paramref name="identityFolders"/>).</summary>
    public IEnumerable<(Option Option, string Path)> Paths(T config, bool identityFolders = false) =>
        from b in _bound
        let setting = b.Property.GetCustomAttribute<SettingAttribute>()!
        where setting.IsPath && (!identityFolders || setting.IsIdentityFolders) && b.Property.GetValue(config) is string { Length: > 0 }
        select (b.Option, (string)b.Property.GetValue(config)!);

    /// <summary><paramref name="config"/> with every path setting (<see cref="SettingAttribute.IsPath"/>) made absolute against the working directory.</summary>
    public T AbsolutePaths(T config)
    {
        var json = JsonSerializer.SerializeToNode(config, SettingsJson.Options)!.AsObject();
        foreach (var (option, path) in Paths(config))
            json[SettingsJson.Key(_bound.Single(b => b.Option == option).Property.Name)] = Path.GetFullPath(path);
        return json.Deserialize<T>(SettingsJson.Options)!;
    }

    /// <summary>
    /// Runs a config's validation and rewrites its "Config 'key' …" messages to name the command-line option too, so
    /// the person sees the spelling they typed.
    /// </summary>
    /// <exception cref="UserErrorException">The config is invalid.</exception>
    public void Validate(Action validate)
    {
        try
        {
            validate();
        }
        catch (ArgumentException e) when (System.Text.RegularExpressions.Regex.Match(e.Message, "^Config '([a-z0-9_]+)'") is { Success: true } match)
        {
            var bound = _bound.FirstOrDefault(b => SettingsJson.Key(b.Property.Name) == match.Groups[1].Value);
            throw new UserErrorException(bound.Option is null ? e.Message : $"{bound.Option.Name} (config '{match.Groups[1].Value}'){e.Message[match.Length..]}");
        }
    }

    /// <summary>The JSON form of one command-line value, or a one-line error naming the option.</summary>
    private static JsonNode? Convert(string option, Type type, string? text)
    {
        text ??= "";
        var target = Underlying(type);
        if (target == typeof(string)) return JsonValue.Create(text);
        if (target == typeof(int))
            return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int i) ? JsonValue.Create(i)
                : throw new UserErrorException($"{option}: '{text}' is not a whole number.");
        if (target == typeof(double))
            return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && double.IsFinite(d) ? JsonValue.Create(d)
                : throw new UserErrorException($"{option}: '{text}' is not a finite number.");
        if (target == typeof(int[]))
        {
            var items = new JsonArray();
            foreach (string item in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                items.Add(Convert(option, typeof(int), item));
            return items;
        }
        if (target.IsEnum)
        {
            if (SettingValueAttribute.Find(target, text) is { } field) return JsonValue.Create(field.Name);
            throw new UserErrorException($"{option}: '{text}' is not one of {string.Join(", ", SettingValueAttribute.Preferred(target))}.");
        }
        throw new NotSupportedException($"Settings of type {type.Name} have no command-line form.");
    }

    private static string OptionName(PropertyInfo property) => "--" + Kebab(property.Name);

    private static string Kebab(string name) => JsonNamingPolicy.KebabCaseLower.ConvertName(name);

    private static Type Underlying(Type type) => Nullable.GetUnderlyingType(type) ?? type;

    private static string Values(Type type) => Underlying(type) is { IsEnum: true } e
        ? $" One of: {string.Join(", ", SettingValueAttribute.Preferred(e))}." : "";

    private static string Default(object? value) => value switch
    {
        null or "" => "",
        int[] { Length: 0 } => "",
        int[] items => $" [default: {string.Join(",", items)}]",
        Enum e => $" [default: {SettingValueAttribute.Spellings(e.GetType().GetField(e.ToString())!)[0]}]",
        bool b => b ? " [default: true]" : "",
        IFormattable f => $" [default: {f.ToString(null, CultureInfo.InvariantCulture)}]",
        _ => $" [default: {value}]",
    };

    private static string HelpName(Type type) => Underlying(type) switch
    {
        var t when t == typeof(int) => "N",
        var t when t == typeof(double) => "X",
        var t when t == typeof(int[]) => "N,N,…",
        { IsEnum: true } => "VALUE",
        _ => "VALUE",
    };
}
