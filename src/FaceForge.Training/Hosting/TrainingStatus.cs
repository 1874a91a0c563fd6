namespace FaceForge.Training.Hosting;

/// <summary>A progress report, sent every <see cref="IRunSettings.LogEvery"/> steps.</summary>
/// <param name="Step">Steps done.</param>
/// <param name="TotalSteps">Steps planned.</param>
/// <param name="Epoch">Current epoch (0-based).</param>
/// <param name="Loss">Mean loss over the steps since the last report.</param>
/// <param name="LearningRate">Current learning rate.</param>
/// <param name="ImagesPerSecond">Throughput since the last report.</param>
/// <param name="Remaining">Estimated time to the end.</param>
/// <param name="SkippedSteps">Steps skipped for a non-finite loss so far.</param>
/// <param name="Metrics">The trainer's own figures, averaged since the last report.</param>
public readonly record struct TrainingStatus(int Step, int TotalSteps, int Epoch, double Loss, double LearningRate, double ImagesPerSecond, TimeSpan Remaining, int SkippedSteps,
    IReadOnlyDictionary<string, double>? Metrics = null);

/// <summary>The outcome of a training run.</summary>
/// <param name="Steps">Steps done in total (earlier sessions included).</param>
/// <param name="ModelPath">The written model file.</param>
/// <param name="Losses">(step, mean loss) at each report of this session.</param>
/// <param name="SkippedSteps">Steps skipped for a non-finite loss.</param>
/// <param name="FirstLoss">The loss of the first step this session ran (what a resumed run is compared on).</param>
/// <param name="Seconds">Wall time of this session.</param>
/// <param name="SkippedInputs">Unreadable inputs skipped this session (skip_bad).</param>
/// <param name="Warnings">What the person should know (a damaged checkpoint passed over, …).</param>
public sealed record TrainingResult(int Steps, string ModelPath, IReadOnlyList<(double Step, double Loss)> Losses, int SkippedSteps, double FirstLoss, double Seconds,
    int SkippedInputs = 0, IReadOnlyList<string>? Warnings = null);

/// <summary>Training stopped because the loss stayed non-finite.</summary>
public sealed class TrainingDivergedException(string message) : Exception(message);
