using System.CommandLine;

namespace FaceForge.Cli;

/// <summary>
/// The options every trainer's command shares (--out, --config, --resume, --force, --json, and one option per config
/// setting) and the rules that turn them into a config and a run folder: a new run reads --config and then the
/// options; a resumed run reads its own config.json, refuses --out, --force and --config, and lets only
/// <c>resumable</c> settings change.
/// </summary>
/// <typeparam name="T">The trainer's config record.</typeparam>
internal sealed class RunCommandLine<T> where T : new()
{
    private readonly string[] _resumable;

    public RunCommandLine(string[] resumable)
    {
        _resumable = resumable;
        Settings = new SettingsBinder<T>();
    }

    public SettingsBinder<T> Settings { get; }

    public Option<string?> Output { get; } = new("--out") { Description = "Run folder (config.json, metrics.jsonl, checkpoints/, model.ffm, report.html)." };

    public Option<string?> Config { get; } = new("--config") { Description = "JSON config (snake_case keys, e.g. {\"epochs\": 10}); options given here override it." };

    public Option<string?> Resume { get; } = new("--resume") { Description = "Continue the run in this folder from its last checkpoint (uses its config.json)." };

    public Option<bool> Force { get; } = new("--force") { Description = "Overwrite a finished or started run (or other files) in --out." };

    public Option<bool> Json { get; } = new("--json") { Description = "Print the result as JSON." };

    /// <summary>Adds the shared options and the settings' options to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { Output, Config, Resume, Force, Json }.Concat(Settings.Options)) command.Options.Add(option);
        if (_resumable.Length > 0) Resume.Description += $" Only {string.Join(", ", _resumable.Select(Settings.NameOf))} may change.";
    }

    /// <summary>
    /// The effective config, the run folder and whether it resumes; <paramref name="check"/> checks a new run's inputs
    /// (paths), <paramref name="validate"/> the config's values (its messages get the options' names).
    /// </summary>
    /// <exception cref="UserErrorException">An option is missing, conflicts or is invalid.</exception>
    public (T Config, string RunDirectory, bool Resume) Resolve(ParseResult parse, Func<string, T> load, Action<T> check, Action<T> validate)
    {
        string? resumeDir = parse.GetValue(Resume);
        string runDir = resumeDir ?? parse.GetValue(Output) ?? throw new UserErrorException("--out is required (or --resume RUN_DIR).");
        T config;
        if (resumeDir is not null)
        {
            string saved = Path.Combine(resumeDir, "config.json");
            if (!File.Exists(saved)) throw new UserErrorException($"--resume: '{resumeDir}' holds no config.json: not a FaceForge run folder.");
            if (parse.GetValue(Config) is not null) throw new UserErrorException("--config cannot be given with --resume: the run's config.json is its config.");
            if (parse.GetValue(Output) is not null) throw new UserErrorException("--out cannot be given with --resume: the run continues in its own folder.");
            if (parse.GetValue(Force)) throw new UserErrorException("--force cannot be given with --resume: to start over, use --out RUN_DIR --force.");
            var fixedOption = Settings.Options.FirstOrDefault(o => parse.GetResult(o) is { Implicit: false } && !_resumable.Any(s => Settings[s] == o));
            if (fixedOption is not null)
                throw new UserErrorException($"{fixedOption.Name} cannot change when resuming (the run's config.json fixes it)"
                    + (_resumable.Length > 0 ? $"; only {string.Join(", ", _resumable.Select(Settings.NameOf))} may." : "."));
            T savedConfig;
            try { savedConfig = load(saved); }
            catch (InvalidDataException e) when (e.Message.Contains("unknown key", StringComparison.Ordinal))
            {
                throw new UserErrorException($"{e.Message} Is '{resumeDir}' a run of another command? Each of train, distill, train-uncertainty and train-detector resumes its own runs.");
            }
            config = Settings.Apply(parse, savedConfig);
        }
        else
        {
            var start = parse.GetValue(Config) is { } file
                ? load(File.Exists(file) ? file : throw new UserErrorException(Directory.Exists(file) ? $"--config: '{file}' is a folder; give the JSON file." : $"--config: '{file}' does not exist."))
                : new T();
            config = Settings.AbsolutePaths(Settings.Apply(parse, start));
            // A run folder inside an input folder would be read back as data (an identity folder without images).
            foreach (var (option, path) in Settings.Paths(config, identityFolders: true))
                if (Directory.Exists(path) && Commands.ReplacedOutput.Inside(runDir, path))
                    throw new UserErrorException($"--out: '{runDir}' lies inside {option.Name} '{path}'; the run's files would be read as part of it. Choose a run folder outside it.");
            check(config);
        }
        Settings.Validate(() => validate(config));
        return (config, runDir, resumeDir is not null);
    }

    /// <summary>A path setting that must exist, or a one-line error naming its option.</summary>
    public void RequireFile(string property, string? path, bool folderAllowed = false)
    {
        if (path is not null && !File.Exists(path) && !(folderAllowed && Directory.Exists(path)))
            throw new UserErrorException($"{Settings.NameOf(property)}: '{path}' does not exist.");
    }
}
