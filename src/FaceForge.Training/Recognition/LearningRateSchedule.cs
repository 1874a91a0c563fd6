namespace FaceForge.Training.Recognition;

/// <summary>Linear warmup from 0, then polynomial decay to 0 or step decay at milestones, as a pure function of the step.</summary>
public sealed record LearningRateSchedule(double Peak, int WarmupSteps, int TotalSteps, ScheduleKind Kind, double Power, int[] MilestoneSteps)
{
    /// <summary>A training config's schedule (warmup and milestones given in epochs) for a run of <paramref name="totalSteps"/> steps.</summary>
    public static LearningRateSchedule For(TrainingConfig config, int stepsPerEpoch, int totalSteps) =>
        new(config.LearningRate, (int)Math.Round(config.WarmupEpochs * stepsPerEpoch), totalSteps, config.Schedule, config.Power,
            config.Milestones.Select(m => m * stepsPerEpoch).ToArray());

    /// <summary>The learning rate for 0-based <paramref name="step"/>.</summary>
    public double At(int step)
    {
        if (step < WarmupSteps) return Peak * (step + 1) / WarmupSteps;
        if (Kind == ScheduleKind.MultiStep) return Peak * Math.Pow(0.1, MilestoneSteps.Count(m => step >= m));
        double progress = (step - WarmupSteps) / (double)Math.Max(1, TotalSteps - WarmupSteps);
        return Peak * Math.Pow(Math.Max(0, 1 - progress), Power);
    }
}
