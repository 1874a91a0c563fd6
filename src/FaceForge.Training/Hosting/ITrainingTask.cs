namespace FaceForge.Training.Hosting;

/// <summary>Which step the host asks a task to take.</summary>
/// <param name="Step">0-based global step index.</param>
/// <param name="Epoch">0-based epoch.</param>
/// <param name="IndexInEpoch">0-based step index within the epoch.</param>
/// <param name="TotalSteps">Steps planned (for schedules).</param>
/// <param name="Cancellation">Cancels data loading.</param>
public readonly record struct StepContext(int Step, int Epoch, int IndexInEpoch, int TotalSteps, CancellationToken Cancellation);

/// <summary>What one step did.</summary>
/// <param name="Loss">The step's loss; not finite means the task skipped its update, and the host counts a bad step.</param>
/// <param name="LearningRate">The learning rate used.</param>
/// <param name="Metrics">The task's own figures (snake_case names), averaged over each report window and written to metrics.jsonl.</param>
public readonly record struct StepResult(double Loss, double LearningRate, IReadOnlyDictionary<string, double>? Metrics = null);

/// <summary>
/// What a trainer gives <see cref="TrainingHost"/>: its step function and its state. The host owns the loop, the
/// run folder, stops, non-finite handling, metrics, checkpoints, progress, the report and, across processes, the
/// agreement of every decision.
/// </summary>
public interface ITrainingTask : IDisposable
{
    /// <summary>The report's title.</summary>
    string Title { get; }

    /// <summary>Steps in one epoch (at least 1).</summary>
    int StepsPerEpoch { get; }

    /// <summary>Images one step consumes over all processes (for the rate).</summary>
    int ImagesPerStep { get; }

    /// <summary>Inputs skipped so far as unreadable (when the config allows skipping bad inputs).</summary>
    int SkippedInputs { get; }

    /// <summary>Takes one optimisation step; null when data loading was cancelled before a batch came.</summary>
    StepResult? Step(StepContext context);

    /// <summary>Adds this task's state (weights, optimizers, generators) to a checkpoint.</summary>
    void Save(CheckpointWriter checkpoint);

    /// <summary>Restores what <see cref="Save"/> wrote.</summary>
    void Load(CheckpointReader checkpoint);

    /// <summary>Writes the trained model (process 0 only).</summary>
    void SaveModel(string path, int steps);

    /// <summary>Rows of the report's summary table.</summary>
    IReadOnlyDictionary<string, string> Describe(int steps, int totalSteps);
}

/// <summary>The loop settings every trainer's config carries.</summary>
public interface IRunSettings
{
    /// <summary>Epochs planned.</summary>
    int Epochs { get; }

    /// <summary>Stop after this many steps if positive.</summary>
    int MaxSteps { get; }

    /// <summary>Stop after this many seconds if positive.</summary>
    double MaxSeconds { get; }

    /// <summary>Write a metrics line every N steps.</summary>
    int LogEvery { get; }

    /// <summary>Checkpoint every N steps (0: only at the end).</summary>
    int CheckpointEvery { get; }

    /// <summary>Consecutive non-finite steps tolerated before the run stops.</summary>
    int MaxBadSteps { get; }

    /// <summary>Seed of libtorch's global generator (and whatever the task seeds from it).</summary>
    int Seed { get; }

    /// <summary>The whole config as JSON, written to config.json.</summary>
    string ToJson();
}
