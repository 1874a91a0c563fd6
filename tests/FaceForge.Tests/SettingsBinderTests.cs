using System.CommandLine;
using System.Globalization;
using System.Reflection;
using FaceForge.Cli;
using FaceForge.Configuration;
using FaceForge.Training.Detection;
using FaceForge.Training.Recognition;
using Xunit;

namespace FaceForge.Tests;

/// <summary>Every config key has a command-line option, and a value given there reaches the config and survives config.json.</summary>
public class SettingsBinderTests
{
    [Fact]
    public void EveryRecognitionSettingRoundTrips() => RoundTrip<TrainingConfig>(c => c.ToJson(), TrainingConfig.Load);

    [Fact]
    public void EveryDetectorSettingRoundTrips() => RoundTrip<DetectorTrainingConfig>(c => c.ToJson(), DetectorTrainingConfig.Load);

    private static void RoundTrip<T>(Func<T, string> toJson, Func<string, T> load) where T : new()
    {
        var binder = new SettingsBinder<T>();
        var settings = typeof(T).GetProperties().Where(p => p.GetCustomAttribute<SettingAttribute>() is not null).ToList();
        Assert.Equal(settings.Count, binder.Options.Count());
        var defaults = new T();
        foreach (var property in settings)
        {
            var (text, expected) = Other(property, property.GetValue(defaults));
            var command = new RootCommand();
            foreach (var option in binder.Options) command.Options.Add(option);
            string name = binder.NameOf(property.Name);
            var parse = command.Parse(text is null ? [name] : [name, text]);
            Assert.Empty(parse.Errors);
            var config = binder.Apply(parse, new T());
            Assert.Equal(expected, Normalise(property.GetValue(config)));
            // Everything else keeps its default.
            foreach (var other in settings.Where(o => o != property))
                Assert.Equal(Normalise(other.GetValue(defaults)), Normalise(other.GetValue(config)));
            string file = Path.Combine(TestPaths.NewTempDirectory("binder"), "config.json");
            File.WriteAllText(file, toJson(config));
            Assert.Equal(expected, Normalise(property.GetValue(load(file))));
        }
    }

    /// <summary>A command-line text for a value other than the default, and that value.</summary>
    private static (string? Text, object? Value) Other(PropertyInfo property, object? current)
    {
        var type = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
        if (type == typeof(bool)) return (null, true);
        if (type == typeof(int)) return ((((int)current!) + 3).ToString(CultureInfo.InvariantCulture), ((int)current!) + 3);
        if (type == typeof(double))
        {
            double v = (double)current! == 0 ? 0.25 : (double)current! / 2;
            return (v.ToString("R", CultureInfo.InvariantCulture), v);
        }
        if (type == typeof(string)) return ("some/path", "some/path");
        if (type == typeof(int[])) return ("2,3", "2,3");
        if (type.IsEnum)
        {
            var field = type.GetFields(BindingFlags.Public | BindingFlags.Static).First(f => !Equals(f.GetValue(null), current));
            string spelling = field.GetCustomAttribute<SettingValueAttribute>()?.Name ?? System.Text.Json.JsonNamingPolicy.KebabCaseLower.ConvertName(field.Name);
            return (spelling, field.GetValue(null));
        }
        throw new NotSupportedException(type.Name);
    }

    private static object? Normalise(object? value) => value is int[] items ? string.Join(",", items) : value;

    [Fact]
    public void BadValuesNameTheOptionAndWhatItAccepts()
    {
        var binder = new SettingsBinder<TrainingConfig>();
        var command = new RootCommand();
        foreach (var option in binder.Options) command.Options.Add(option);
        string Error(params string[] args) => Assert.Throws<UserErrorException>(() => binder.Apply(command.Parse(args), new TrainingConfig())).Message;
        Assert.Equal("--epochs: 'ten' is not a whole number.", Error("--epochs", "ten"));
        Assert.Equal("--lr: 'NaN' is not a finite number.", Error("--lr", "NaN"));
        Assert.Equal("--fc-dtype: 'fp8' is not one of fp32, fp16.", Error("--fc-dtype", "fp8"));
        Assert.Contains("[default: 0.1]", binder[nameof(TrainingConfig.LearningRate)].Description);
    }

    [Fact]
    public void ConfigFilesTakeTheOptionsSpellingsAndRefuseNumbersForChoices()
    {
        string dir = TestPaths.NewTempDirectory("config-values");
        string Write(string json) { string f = Path.Combine(dir, $"c{Guid.NewGuid():N}.json"); File.WriteAllText(f, json); return f; }
        Assert.Equal(HeadKind.CosFace, TrainingConfig.Load(Write("""{"head": "cos-face"}""")).Head); // --head's spelling
        Assert.Equal(HeadKind.CosFace, TrainingConfig.Load(Write("""{"head": "CosFace"}""")).Head); // config.json's
        // The stock enum converter read 1 as CosFace and 9 as an optimizer that does not exist.
        string file = Write("""{"head": 1}""");
        var e = Assert.Throws<InvalidDataException>(() => TrainingConfig.Load(file));
        Assert.StartsWith(file, e.Message);
        Assert.Contains("key 'head' must be one of: arc-face, cos-face", e.Message);
        Assert.Contains("key 'optimizer' must be one of", Assert.Throws<InvalidDataException>(() => TrainingConfig.Load(Write("""{"optimizer": 9}"""))).Message);
        Assert.Contains("key 'scale' must be a finite number (got 1e400)", Assert.Throws<InvalidDataException>(() => TrainingConfig.Load(Write("""{"scale": 1e400}"""))).Message);
    }

    [Theory]
    [InlineData("nesterov", "is SGD's")]
    [InlineData("straight_through", "is ArcFace's margin")]
    [InlineData("milestones", "need schedule multi-step")]
    public void SettingsTheOtherChoicesIgnoreAreRefused(string key, string expected)
    {
        var config = key switch
        {
            "nesterov" => new TrainingConfig { Data = "d", Optimizer = OptimizerKind.AdamW, Nesterov = true },
            "straight_through" => new TrainingConfig { Data = "d", Head = HeadKind.CosFace, StraightThrough = true },
            _ => new TrainingConfig { Data = "d", Milestones = [2] },
        };
        config.Validate(); // a saved run with them still resumes
        var e = Assert.Throws<ArgumentException>(config.RequireNoIgnoredSettings);
        Assert.StartsWith($"Config '{key}' {expected}", e.Message);
    }
}
