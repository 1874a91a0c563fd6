using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using FaceForge.Training.Distributed;
using FaceForge.Training.Runtime;
using TorchSharp;

namespace FaceForge.Training.Hosting;

/// <summary>
/// The one training loop: prepares the run folder (ownership, the resume and overwrite rules), seeds libtorch,
/// builds the task, restores the newest checkpoint, then steps until the planned steps, max_steps, max_seconds or
/// cancellation; counts non-finite steps and stops after max_bad_steps in a row; writes a metrics line and a
/// progress report every log_every steps, an atomic checkpoint every checkpoint_every steps and at the end, then
/// the model, report.html and, when every planned step is done, finished.json.
/// </summary>
/// <remarks>
/// One run per instance, on the calling thread. With a communicator of several processes (MPI), every decision
/// that could differ between processes (stopping, folder problems) is agreed, process 0 writes the run folder and
/// each process checkpoints its own state.
/// </remarks>
public sealed class TrainingHost(RunFolder folder, IRunSettings settings, ICommunicator? communicator = null)
{
    private readonly ICommunicator _world = communicator ?? new SingleProcessCommunicator();

    private bool IsRoot => _world.Rank == 0;

    /// <summary>Runs (or, with <paramref name="resume"/>, continues) the task that <paramref name="createTask"/> builds.</summary>
    /// <exception cref="RunFolderConflictException">The folder holds a finished or started run and neither resume nor force was asked, or another process owns it.</exception>
    /// <exception cref="TrainingDivergedException">max_bad_steps steps in a row were not finite.</exception>
    public TrainingResult Run(Func<ITrainingTask> createTask, bool resume = false, bool force = false, IProgress<TrainingStatus>? progress = null, CancellationToken cancellation = default)
    {
        TorchRuntime.EnsureLoaded();
        // Process 0 owns the folder; the others learn of a refusal before they touch anything.
        IDisposable? ownership = null;
        RunFolderConflictException? refused = null;
        bool created = IsRoot && !resume && !Directory.Exists(folder.Path);
        if (IsRoot)
            try { ownership = folder.Acquire(); }
            catch (RunFolderConflictException e) { refused = e; }
        using var owned = ownership;
        if (Agree(refused is not null))
            throw refused ?? new RunFolderConflictException(folder.Path, RunConflict.Locked, $"'{folder.Path}' is in use by another run (run.lock).");
        var clock = Stopwatch.StartNew();
        using var task = Build();

        ITrainingTask Build()
        {
            try
            {
                Prepare(resume, force);
                torch.manual_seed(settings.Seed);
                return createTask();
            }
            catch when (created)
            {
                RemoveCreatedFolder();
                throw;
            }
        }

        // A folder this call made, refused before its first step (bad settings, or bad data in the first batch):
        // removed, so a retry needs no --force; a run that took steps keeps its folder (its metrics explain a
        // divergence). Emptied while the lock is held (a second trainer waiting for it must not lose its files), then removed.
        void RemoveCreatedFolder()
        {
            try
            {
                foreach (string entry in Directory.EnumerateFileSystemEntries(folder.Path).Where(e => e != folder.LockPath).ToList())
                    if (Directory.Exists(entry)) Directory.Delete(entry, recursive: true); else File.Delete(entry);
                ownership?.Dispose();
                Directory.Delete(folder.Path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { /* left behind: another run took it, or it cannot be removed */ }
        }
        // Only now, with the new run built and checked, does an overwrite delete the old one.
        if (force && !resume) folder.Clear();
        int perEpoch = task.StepsPerEpoch;
        int totalSteps = settings.Epochs * perEpoch;
        if (settings.MaxSteps > 0) totalSteps = Math.Min(totalSteps, settings.MaxSteps);

        int step = 0, badSteps = 0, skipped = 0;
        var warnings = new List<string>();
        if (resume) (step, badSteps) = Restore(task, warnings);
        if (resume && step >= totalSteps && folder.State == RunFolderState.Finished)
            throw new RunFolderConflictException(folder.Path, RunConflict.NothingLeft, $"'{folder.Path}' holds a finished run ({step} of {totalSteps} steps): nothing is left to resume.");
        using (var steps = _world.AllGather(torch.tensor(new long[] { step })))
            if (steps.unique().output.numel() != 1)
                throw new InvalidDataException($"The processes' newest checkpoints are at different steps ({string.Join(", ", steps.data<long>().ToArray())}); remove the newer ones so all resume from the same step.");
        if (IsRoot)
        {
            if (resume && step < totalSteps) File.Delete(folder.FinishedPath); // planned longer now: no longer finished
            folder.TrimMetrics(step);
            AtomicFile.WriteAllText(folder.ConfigPath, settings.ToJson());
        }

        var losses = new List<(double, double)>();
        var window = new Window();
        double firstLoss = double.NaN;
        using var metrics = IsRoot ? new StreamWriter(folder.MetricsPath, append: true) : StreamWriter.Null;
        // Processes must agree on stopping (time and cancellation differ between them) or the others would wait forever.
        bool ShouldStop() => Agree(step >= totalSteps || cancellation.IsCancellationRequested || (settings.MaxSeconds > 0 && clock.Elapsed.TotalSeconds > settings.MaxSeconds));
        try
        {
            while (!ShouldStop())
            {
                int epoch = step / perEpoch;
                var context = new StepContext(step, epoch, step % perEpoch, totalSteps, cancellation);
                if (task.Step(context) is not { } result)
                {
                    if (cancellation.IsCancellationRequested) continue;
                    throw new InvalidOperationException($"The data of epoch {epoch} ended before its step {context.IndexInEpoch}.");
                }
                if (!double.IsFinite(result.Loss))
                {
                    skipped++;
                    if (++badSteps >= settings.MaxBadSteps)
                        throw new TrainingDivergedException($"Training diverged: {badSteps} consecutive steps with a non-finite loss or gradient (last at step {step}, learning rate {result.LearningRate:g3}); lower the learning rate or lengthen the warmup and start the run again (the same --out with --force replaces this one).");
                }
                else
                {
                    badSteps = 0;
                    if (double.IsNaN(firstLoss)) firstLoss = result.Loss;
                    window.Add(result);
                }
                window.Images += task.ImagesPerStep;
                step++;

                double rate = window.Images / Math.Max(1e-9, window.Clock.Elapsed.TotalSeconds);
                var extra = window.MeanMetrics();
                var status = new TrainingStatus(step, totalSteps, epoch, window.MeanLoss, result.LearningRate, rate,
                    TimeSpan.FromSeconds((totalSteps - step) * (double)task.ImagesPerStep / Math.Max(rate, 1e-9)), skipped, extra);
                if (step % settings.LogEvery == 0 || step == totalSteps)
                {
                    double mean = window.MeanLoss;
                    var line = new JsonObject
                    {
                        ["step"] = step, ["epoch"] = epoch, ["loss"] = double.IsFinite(mean) ? mean : null, ["lr"] = result.LearningRate,
                        ["images_per_second"] = Math.Round(rate, 1), ["skipped"] = skipped,
                    };
                    foreach (var (name, value) in extra) line[name] = value;
                    metrics.WriteLine(line.ToJsonString());
                    metrics.Flush();
                    if (double.IsFinite(mean)) losses.Add((step, mean));
                    window = new Window();
                }
                // Every step, so a bar moves even when metric lines are far apart (the loss is the window's mean so far).
                progress?.Report(status);
                if (settings.CheckpointEvery > 0 && step % settings.CheckpointEvery == 0) Save(step, badSteps, task);
            }
        }
        catch when (created && step == 0 && folder.LatestCheckpoint() is null)
        {
            metrics.Dispose();
            RemoveCreatedFolder();
            throw;
        }
        Save(step, badSteps, task);
        metrics.Dispose();
        var outcome = new TrainingResult(step, folder.ModelPath, losses, skipped, firstLoss, clock.Elapsed.TotalSeconds, task.SkippedInputs, warnings);
        if (!IsRoot) return outcome;
        task.SaveModel(folder.ModelPath, step);
        var rows = new Dictionary<string, string>(task.Describe(step, totalSteps))
        {
            ["skipped steps"] = skipped.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["model"] = folder.ModelPath,
        };
        Evaluation.TrainingReportWriter.Write(folder.Path, task.Title, folder.LossCurve(), rows);
        if (step >= totalSteps)
            AtomicFile.WriteAllText(folder.FinishedPath, JsonSerializer.Serialize(new { steps = step, seconds = outcome.Seconds }));
        return outcome;
    }

    private void Prepare(bool resume, bool force)
    {
        Directory.CreateDirectory(folder.CheckpointDirectory);
        folder.RemoveTemporaryFiles();
        var state = folder.State;
        var files = folder.RunFiles();
        // A resume without a checkpoint would start over: refused where that overwrites a run's files.
        bool noCheckpoint = folder.LatestCheckpoint() is null && files.Count > 0;
        (RunConflict Reason, string Message)? problem = force ? null : (resume, state) switch
        {
            (false, RunFolderState.Finished) => (RunConflict.Finished, $"'{folder.Path}' holds a finished run."),
            (false, RunFolderState.Started) => (RunConflict.Started, $"'{folder.Path}' holds a started run ({Path.GetFileName(folder.LatestCheckpoint())})."),
            (false, RunFolderState.Empty) when files.Count > 0 => (RunConflict.LooseFiles, $"'{folder.Path}' holds {string.Join(", ", files)} but no run to continue; a new run would overwrite them."),
            (true, _) when noCheckpoint => (RunConflict.NoCheckpoint, $"'{folder.Path}' holds no checkpoint to resume from (only {string.Join(", ", files)}); resuming would start over and overwrite them."),
            _ => null,
        };
        // Decided together: a process that went on alone would wait for the others forever.
        if (Agree(problem is not null))
            throw new RunFolderConflictException(folder.Path, problem?.Reason ?? RunConflict.Started, problem?.Message ?? $"'{folder.Path}' holds a started run of another process.");
    }

    /// <summary>
    /// Restores the newest checkpoint that is whole. A damaged newer one (truncated by a full disk, say: judged by the
    /// file alone, <see cref="CheckpointArchive.Damage"/>) is renamed *.damaged, named in a warning and passed over.
    /// A whole checkpoint that does not fit this run (seed, process or shard count, shapes) is an error: an older one
    /// of the same run would not fit either, and nothing is renamed.
    /// </summary>
    private (int Step, int BadSteps) Restore(ITrainingTask task, List<string> warnings)
    {
        foreach (string checkpoint in folder.Checkpoints().Reverse())
        {
            if (CheckpointArchive.Damage(checkpoint) is { } damage)
            {
                // Renamed out of the way, so that pruning never keeps it in place of a good one; kept for inspection.
                File.Move(checkpoint, checkpoint + ".damaged", overwrite: true);
                warnings.Add($"checkpoint {checkpoint} is damaged ({damage}); renamed to {Path.GetFileName(checkpoint)}.damaged, resuming from an older one");
                continue;
            }
            var state = CheckpointArchive.Load(checkpoint, (reader, state) =>
            {
                if (state.Processes != _world.Size)
                    throw new InvalidDataException($"{checkpoint}: saved by a run of {state.Processes} process(es), this one has {_world.Size}; reshard the checkpoint for {_world.Size} process(es) first.");
                if (state.Seed != settings.Seed) throw new InvalidDataException($"{checkpoint}: saved with seed {state.Seed}, config says {settings.Seed}.");
                task.Load(reader);
            });
            return (state.Step, state.BadSteps);
        }
        if (warnings.Count > 0) throw new InvalidDataException($"No checkpoint of '{folder.Path}' is whole: {string.Join("; ", warnings)}.");
        return (0, 0);
    }

    private void Save(int step, int badSteps, ITrainingTask task)
    {
        CheckpointArchive.Save(folder.CheckpointPath(step), new CheckpointState(step, badSteps, settings.Seed, _world.Size), task.Save);
        folder.PruneCheckpoints();
    }

    /// <summary>True on every process if true on any.</summary>
    private bool Agree(bool local)
    {
        if (_world.Size == 1) return local;
        using var flag = torch.tensor(new long[] { local ? 1 : 0 });
        _world.AllReduce(flag, ReduceOperation.Max);
        return flag.item<long>() != 0;
    }

    /// <summary>The steps since the last report.</summary>
    private sealed class Window
    {
        private double _loss;
        private int _steps;
        private readonly Dictionary<string, double> _metrics = new(StringComparer.Ordinal);

        public Stopwatch Clock { get; } = Stopwatch.StartNew();

        public int Images { get; set; }

        public double MeanLoss => _steps > 0 ? _loss / _steps : double.NaN;

        public void Add(StepResult result)
        {
            _loss += result.Loss;
            _steps++;
            foreach (var (name, value) in result.Metrics ?? new Dictionary<string, double>())
                _metrics[name] = _metrics.GetValueOrDefault(name) + value;
        }

        public IReadOnlyDictionary<string, double> MeanMetrics() => _metrics.ToDictionary(kv => kv.Key, kv => kv.Value / Math.Max(1, _steps));
    }
}
