using FaceForge.Alignment;
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
/// <remarks>One run per instance, on the calling thread; dispose it to release the run folder.</remarks>
public sealed class Distiller : IDisposable
{
    private const string TeacherHashFile = "teacher.sha256";
    private readonly DistillationConfig _config;
    private IDisposable? _lock;

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
    /// Checks the inputs, takes the run folder's lock (held until <see cref="Dispose"/>), sets the folder up (a new
    /// run writes config.json and the teacher's hash; a forced one first removes the old run's generations and model;
    /// a resumed one checks the teacher is unchanged) and returns the generations still to run: whether each resumes
    /// from its checkpoint, and whether it may overwrite what its folder holds (a generation after one that is
    /// retrained, or one without a checkpoint to resume, is derived from this run and is rebuilt).
    /// </summary>
    /// <exception cref="RunFolderConflictException">A new run, but the folder holds one and <paramref name="force"/> is not set; or another process owns it.</exception>
    public IReadOnlyList<(int Generation, bool Resume, bool Overwrite)> Prepare(bool resume, bool force)
    {
        Preflight();
        string configPath = Path.Combine(Root, "config.json");
        if (File.Exists(Root)) throw new RunFolderConflictException(Root, RunConflict.NotAFolder, $"'{Root}' is a file, not a run folder.");
        if (!resume && File.Exists(configPath) && !force)
            throw new RunFolderConflictException(Root, File.Exists(ModelPath) ? RunConflict.Finished : RunConflict.Started, $"'{Root}' holds a distillation run.");
        Directory.CreateDirectory(Root);
        _lock ??= new RunFolder(Root).Acquire();
        if (!resume)
        {
            if (force)
            {
                foreach (string old in Directory.GetDirectories(Root, "gen-*")) Directory.Delete(old, recursive: true);
                File.Delete(ModelPath);
            }
            AtomicFile.WriteAllText(Path.Combine(Root, TeacherHashFile), FileHash.Sha256(_config.Teacher!));
            AtomicFile.WriteAllText(configPath, _config.ToJson());
            return Enumerable.Range(1, _config.Generations).Select(g => (g, false, force)).ToList();
        }
        if (!File.Exists(Path.Combine(Root, TeacherHashFile)))
        {
            // A generation's folder holds a config.json too; resumed as a run it would train a new generation 1 inside it.
            string full = Path.GetFullPath(Root).TrimEnd('/');
            string? parent = Path.GetDirectoryName(full);
            throw new RunFolderConflictException(Root, RunConflict.NoCheckpoint,
                parent is not null && Path.GetFileName(full).StartsWith("gen-", StringComparison.Ordinal) && File.Exists(Path.Combine(parent, TeacherHashFile))
                    ? $"'{Root}' is one generation of the distillation run '{parent}'; resume the run: --resume {parent}."
                    : $"'{Root}' is not a distillation run folder (no {TeacherHashFile}).");
        }
        RequireSameTeacher();
        var left = new List<(int, bool, bool)>();
        for (int g = 1; g <= _config.Generations; g++)
        {
            var state = Generation(g).State;
            if (left.Count == 0 && state == RunFolderState.Finished && File.Exists(Generation(g).ModelPath)) continue;
            bool resumes = left.Count == 0 && state == RunFolderState.Started;
            left.Add((g, resumes, !resumes));
        }
        if (left.Count == 0)
        {
            // Finished, but stopped before the last generation's student was copied out.
            if (!File.Exists(ModelPath)) CopyModel(Generation(_config.Generations).ModelPath);
            return left;
        }
        AtomicFile.WriteAllText(configPath, _config.ToJson()); // the stopping settings a resume may change
        return left;
    }

    /// <summary>
    /// Runs (or continues) one generation; generation k &gt; 1 needs generation k - 1's model. After the last one the
    /// student is copied to <see cref="ModelPath"/>. A generation stopped early (max_steps, max_seconds) is left
    /// unfinished: check <see cref="RunFolder.State"/> of <see cref="Generation"/> before the next.
    /// </summary>
    /// <exception cref="ArgumentException">Generation k - 1 has not finished.</exception>
    public TrainingResult RunGeneration(int generation, bool resume, bool force, IProgress<TrainingStatus>? progress = null, CancellationToken cancellation = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(generation, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(generation, _config.Generations);
        string hash = RequireSameTeacher();
        var config = _config with { Seed = _config.Seed + generation - 1, MixupProbability = generation >= _config.MixupFromGeneration ? _config.MixupProbability : 0 };
        if (generation > 1)
        {
            string previous = Generation(generation - 1).ModelPath;
            if (!File.Exists(previous) || Generation(generation - 1).State != RunFolderState.Finished)
                throw new ArgumentException($"Generation {generation} starts from generation {generation - 1}'s student, but '{Generation(generation - 1).Path}' has not finished; resume the run first.");
            config = config with { Init = previous };
        }
        var folder = Generation(generation);
        var result = new TrainingHost(folder, config).Run(() => new DistillationTask(config, generation, hash), resume, force, progress, cancellation);
        if (generation == _config.Generations && folder.State == RunFolderState.Finished) CopyModel(result.ModelPath);
        return result;
    }

    /// <summary>Releases the run folder's lock.</summary>
    public void Dispose()
    {
        _lock?.Dispose();
        _lock = null;
    }

    private void CopyModel(string source) => AtomicFile.Write(ModelPath, stream => { using var input = File.OpenRead(source); input.CopyTo(stream); });

    /// <summary>The cheap checks, before any folder is touched: teacher kind, student name, data and landmarks, crop sizes.</summary>
    private void Preflight()
    {
        var teacher = ModelFile.ReadInfo(_config.Teacher!);
        if (teacher.Kind != ModelInfo.RecognitionKind)
            throw new ArgumentException($"{_config.Teacher}: '{teacher.Architecture}' is a {teacher.Kind} model; a teacher must be a recognition model that gives embeddings.");
        var student = DistillationTask.InfoFor(_config, teacher);
        if (_config.Init is { } init)
        {
            var initInfo = File.Exists(init) ? ModelFile.ReadInfo(init) : throw new ArgumentException($"--init: '{init}' does not exist.");
            DistillationTask.RequireInitFits(initInfo, student, init);
        }
        using var dataset = FaceDataset.Open(_config.Data!);
        if (dataset.IdentityCount < 2) throw new ArgumentException($"'{_config.Data}' holds {dataset.IdentityCount} identity; the margin loss needs at least 2.");
        if (_config.Landmarks is { } landmarks) DistillationTask.LandmarksByIndex(dataset, _config.Data!, landmarks);
        else
        {
            // Without landmarks the crops are used as they are: each network takes their size, or they are crops of a
            // known template that FaceAligner.Reframe moves into the network's (a 112x112 ArcFace pack for a 112x96 teacher).
            var first = ImageDecoder.Decode(dataset.ReadEncoded(0), dataset.Describe(0));
            bool known = AlignmentTemplate.IsCropSize(first.Width, first.Height);
            foreach (var (role, info) in new[] { ("student", student), ("teacher", teacher) })
                if ((first.Width != info.InputWidth || first.Height != info.InputHeight) && !(known && info.InputTemplate is not null))
                    throw new ArgumentException($"{dataset.Describe(0)} is a {first.Width}x{first.Height} crop, but the {role} {info.Architecture} takes {info.InputWidth}x{info.InputHeight} ({info.Template}). "
                        + "Give --data the original photos and --landmarks, so each network gets a crop aligned to its own template.");
        }
        if (dataset.Count < _config.BatchSize) throw new ArgumentException($"'{_config.Data}' holds {dataset.Count} images: fewer than one batch of {_config.BatchSize} (--batch-size).");
    }

    /// <summary>The teacher's SHA-256, which must equal the one the run recorded at its start.</summary>
    private string RequireSameTeacher()
    {
        string hash = FileHash.Sha256(_config.Teacher!);
        string recorded = Path.Combine(Root, TeacherHashFile);
        if (File.Exists(recorded) && File.ReadAllText(recorded).Trim() != hash)
            throw new InvalidDataException($"The teacher '{_config.Teacher}' has changed since this distillation run started (its SHA-256 differs from {recorded}); every generation must learn from the same teacher. Restore the file, or start over with --force.");
        return hash;
    }
}
