using FaceForge.Data;
using FaceForge.Imaging;
using FaceForge.Models;
using FaceForge.Training.Hosting;

namespace FaceForge.Training.Distillation;

/// <summary>
/// Recursive distillation (VarGFaceNet): generation 1 trains a student from the teacher; generation k + 1 starts from
/// generation k's student, with the same teacher. The run folder RUN holds config.json (the run's config),
/// teacher.sha256 (the teacher as first read), one run folder per generation (RUN/gen-1, RUN/gen-2, …, each with the
/// host's layout) and, once the last generation ends, RUN/model.ffm (its student).
/// </summary>
/// <remarks>One run per instance, on the calling thread.</remarks>
public sealed class Distiller
{
    private const string TeacherHashFile = "teacher.sha256";
    private readonly DistillationConfig _config;

    /// <summary>Prepares a run of <paramref name="config"/> in <paramref name="runDirectory"/>.</summary>
    public Distiller(DistillationConfig config, string runDirectory)
    {
        config.Validate();
        _config = config;
        Root = Path.GetFullPath(runDirectory);
    }

    /// <summary>The run's folder.</summary>
    public string Root { get; }

    /// <summary>The final model (the last generation's student), written when that generation ends.</summary>
    public string ModelPath => Path.Combine(Root, "model.ffm");

    /// <summary>Generation <paramref name="generation"/>'s run folder (1-based).</summary>
    public RunFolder Generation(int generation) => new(Path.Combine(Root, $"gen-{generation}"));

    /// <summary>
    /// Checks the inputs, claims the folder (a new run writes config.json and the teacher's hash; a resumed one checks
    /// the teacher is unchanged) and returns the generations still to run, each with whether it resumes.
    /// </summary>
    /// <exception cref="RunFolderConflictException">A new run, but the folder holds one and <paramref name="force"/> is not set.</exception>
    public IReadOnlyList<(int Generation, bool Resume)> Prepare(bool resume, bool force)
    {
        Preflight();
        string configPath = Path.Combine(Root, "config.json");
        if (!resume)
        {
            if (File.Exists(Root)) throw new RunFolderConflictException(Root, RunConflict.NotAFolder, $"'{Root}' is a file, not a run folder.");
            if (File.Exists(configPath) && !force)
                throw new RunFolderConflictException(Root, File.Exists(ModelPath) ? RunConflict.Finished : RunConflict.Started, $"'{Root}' holds a distillation run.");
            Directory.CreateDirectory(Root);
            // A forced restart: generations beyond this run's would otherwise look like its own.
            for (int g = _config.Generations + 1; Directory.Exists(Generation(g).Path); g++) Directory.Delete(Generation(g).Path, recursive: true);
            if (force) File.Delete(ModelPath);
            AtomicFile.WriteAllText(Path.Combine(Root, TeacherHashFile), TeacherHash());
            AtomicFile.WriteAllText(configPath, _config.ToJson());
            return Enumerable.Range(1, _config.Generations).Select(g => (g, false)).ToList();
        }
        RequireSameTeacher();
        AtomicFile.WriteAllText(configPath, _config.ToJson()); // the stopping settings a resume may change
        var left = new List<(int, bool)>();
        for (int g = 1; g <= _config.Generations; g++)
        {
            var state = Generation(g).State;
            if (state == RunFolderState.Finished && File.Exists(Generation(g).ModelPath) && left.Count == 0) continue;
            left.Add((g, state == RunFolderState.Started && left.Count == 0));
        }
        return left;
    }

    /// <summary>
    /// Runs (or continues) one generation; generation k &gt; 1 needs generation k - 1's model. After the last one the
    /// student is copied to <see cref="ModelPath"/>.
    /// </summary>
    public TrainingResult RunGeneration(int generation, bool resume, bool force, IProgress<TrainingStatus>? progress = null, CancellationToken cancellation = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(generation, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(generation, _config.Generations);
        string hash = RequireSameTeacher();
        var config = _config with { Seed = _config.Seed + generation - 1 };
        if (generation > 1)
        {
            string previous = Generation(generation - 1).ModelPath;
            if (!File.Exists(previous) || Generation(generation - 1).State != RunFolderState.Finished)
                throw new InvalidOperationException($"Generation {generation} starts from generation {generation - 1}'s student, but '{previous}' is not finished yet.");
            config = config with { Init = previous };
        }
        var folder = Generation(generation);
        var result = new TrainingHost(folder, config).Run(() => new DistillationTask(config, generation, hash), resume, force, progress, cancellation);
        if (generation == _config.Generations && folder.State == RunFolderState.Finished)
            AtomicFile.Write(ModelPath, stream => { using var source = File.OpenRead(result.ModelPath); source.CopyTo(stream); });
        return result;
    }

    /// <summary>The cheap checks, before any folder is touched: teacher kind, student name, data and landmarks, crop sizes.</summary>
    private void Preflight()
    {
        var teacher = ModelFile.ReadInfo(_config.Teacher!);
        if (teacher.Kind != ModelInfo.RecognitionKind)
            throw new ArgumentException($"{_config.Teacher}: '{teacher.Architecture}' is a {teacher.Kind} model; a teacher must be a recognition model that gives embeddings.");
        var student = DistillationTask.InfoFor(_config, teacher);
        if (_config.Init is { } init && !File.Exists(init)) throw new ArgumentException($"--init: '{init}' does not exist.");
        using var dataset = FaceDataset.Open(_config.Data!);
        if (dataset.IdentityCount < 2) throw new ArgumentException($"'{_config.Data}' holds {dataset.IdentityCount} identity; the margin loss needs at least 2.");
        if (_config.Landmarks is { } landmarks)
        {
            DistillationTask.LandmarksByIndex(dataset, _config.Data!, landmarks);
            return;
        }
        // Without landmarks the crops are used as they are: both networks must take their size.
        var first = ImageDecoder.Decode(dataset.ReadEncoded(0), dataset.Describe(0));
        foreach (var (role, info) in new[] { ("student", student), ("teacher", teacher) })
            if (first.Width != info.InputWidth || first.Height != info.InputHeight)
                throw new ArgumentException($"{dataset.Describe(0)} is a {first.Width}x{first.Height} crop, but the {role} {info.Architecture} takes {info.InputWidth}x{info.InputHeight} ({info.Template}). "
                    + "Give --data the original photos and --landmarks, so each network gets a crop aligned to its own template.");
    }

    /// <summary>The teacher's SHA-256, which must equal the one the run recorded at its start.</summary>
    private string RequireSameTeacher()
    {
        string hash = TeacherHash();
        string recorded = Path.Combine(Root, TeacherHashFile);
        if (File.Exists(recorded) && File.ReadAllText(recorded).Trim() != hash)
            throw new InvalidDataException($"The teacher '{_config.Teacher}' has changed since this distillation run started (its SHA-256 differs from {recorded}); every generation must learn from the same teacher. Restore the file, or start over with --force.");
        return hash;
    }

    private string TeacherHash()
    {
        using var stream = File.OpenRead(_config.Teacher!);
        return Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(stream));
    }
}
