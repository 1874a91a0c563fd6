namespace FaceForge.Training.Detection;

/// <summary>Settings of <see cref="DetectorTrainer"/>.</summary>
public sealed record DetectorTrainingOptions
{
    /// <summary>RetinaFace/WIDER label.txt, or a folder holding one (as <c>data synth --scenes</c> writes).</summary>
    public required string Data { get; init; }

    /// <summary>Folder the label paths are relative to; null: the label file's folder.</summary>
    public string? Images { get; init; }

    /// <summary>Occlusion masks folder; null: DATA/masks when it exists, else no segmentation loss.</summary>
    public string? Masks { get; init; }

    /// <summary>Architecture (<see cref="DetectorCatalog"/>). <value>The default is aofd-mnet025.</value></summary>
    public string Architecture { get; init; } = DetectorCatalog.OcclusionAware;

    /// <summary>Train against the adversarial mask generator (AOFD); false trains the plain detector. <value>The default is true.</value></summary>
    public bool Adversarial { get; init; } = true;

    /// <summary>Detector model file to start from (a RetinaFace import initialises an AOFD model's detector part).</summary>
    public string? Init { get; init; }

    /// <summary>Training width. <value>The default is 320.</value></summary>
    public int Width { get; init; } = 320;

    /// <summary>Training height. <value>The default is 240.</value></summary>
    public int Height { get; init; } = 240;

    /// <summary>Images per step. <value>The default is 16.</value></summary>
    public int BatchSize { get; init; } = 16;

    /// <summary>Epochs. <value>The default is 10.</value></summary>
    public int Epochs { get; init; } = 10;

    /// <summary>Stop after this many steps if positive. <value>The default is 0.</value></summary>
    public int MaxSteps { get; init; }

    /// <summary>Stop after this many seconds if positive. <value>The default is 0.</value></summary>
    public double MaxSeconds { get; init; }

    /// <summary>SGD learning rate (momentum 0.9, weight decay 5e-4), divided by 10 for the last fifth. <value>The default is 1e-3.</value></summary>
    public double LearningRate { get; init; } = 1e-3;

    /// <summary>Weight of the occlusion-segmentation loss. <value>The default is 1.</value></summary>
    public double SegmentationWeight { get; init; } = 1;

    /// <summary>Seed of order, flips, mask sampling and initialisation. <value>The default is 0.</value></summary>
    public int Seed { get; init; }

    internal void Validate()
    {
        if (BatchSize < 1) throw new ArgumentException($"Batch size must be at least 1 (got {BatchSize}).");
        if (Width < 32 || Height < 32) throw new ArgumentException($"Training size must be at least 32x32 (got {Width}x{Height}).");
        if (!(LearningRate > 0)) throw new ArgumentException($"Learning rate must be positive (got {LearningRate}).");
        if (Epochs < 1) throw new ArgumentException($"Epochs must be at least 1 (got {Epochs}).");
        if (!DetectorCatalog.IsDetector(Architecture)) throw new ArgumentException($"Unknown detector '{Architecture}'; known: {string.Join(", ", DetectorCatalog.Names)}.");
        if (Adversarial && !Architecture.Equals(DetectorCatalog.OcclusionAware, StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException($"Adversarial masks need the {DetectorCatalog.OcclusionAware} architecture.");
    }
}
