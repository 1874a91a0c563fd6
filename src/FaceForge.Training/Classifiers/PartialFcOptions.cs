namespace FaceForge.Training.Classifiers;

/// <summary>Storage type of the class centres; the arithmetic is always float32.</summary>
public enum CentreStorage
{
    /// <summary>32-bit floats.</summary>
    [FaceForge.Configuration.SettingValue("fp32")]
    Float32,
    /// <summary>16-bit floats: half the memory for the centres.</summary>
    [FaceForge.Configuration.SettingValue("fp16")]
    Float16,
}

/// <summary>Settings of <see cref="PartialFc"/>.</summary>
public sealed record PartialFcOptions
{
    /// <summary>Fraction of each shard's classes scored per step, in (0, 1]; positives are always kept. <value>The default is 0.1.</value></summary>
    public double SampleRate { get; init; } = 0.1;

    /// <summary>Shards held by this process. <value>The default is 1.</value></summary>
    public int Shards { get; init; } = 1;

    /// <summary>Storage of the centres. <value>The default is Float32.</value></summary>
    public CentreStorage Storage { get; init; } = CentreStorage.Float32;

    /// <summary>Momentum of the rows a step did not sample. <value>The default is CatchUp.</value></summary>
    public CentreMomentum Momentum { get; init; } = CentreMomentum.CatchUp;

    /// <summary>Seed of the initial centres and of negative sampling. <value>The default is 0.</value></summary>
    public int Seed { get; init; }

    /// <summary>
    /// Centre rows scored per block by the blocked kernel (heads with a target-only margin): bounds the temporaries to
    /// BlockRows x d, 16 MB at d = 512, under glibc's 32 MB mmap threshold (AllocatorTuning), so they are reused from
    /// the heap instead of page-faulted in afresh for every block. <value>The default is 8,192.</value>
    /// </summary>
    internal int BlockRows { get; init; } = 8192;

    internal void Validate(long classes)
    {
        if (!(SampleRate > 0 && SampleRate <= 1)) throw new ArgumentException($"Sample rate must be in (0, 1] (got {SampleRate}).", nameof(SampleRate));
        if (Shards < 1) throw new ArgumentException($"Shards must be at least 1 (got {Shards}).", nameof(Shards));
        if (Shards > classes) throw new ArgumentException($"More shards ({Shards}) than classes ({classes}): every shard needs a class.", nameof(Shards));
    }
}
