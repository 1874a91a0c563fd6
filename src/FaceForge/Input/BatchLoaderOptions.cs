namespace FaceForge.Input;

/// <summary>Settings of <see cref="BatchLoader"/>.</summary>
public sealed record BatchLoaderOptions
{
    /// <summary>Images per batch. <value>The default is 64.</value></summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>Output width; images of another size are resized. <value>The default is 112.</value></summary>
    public int Width { get; init; } = 112;

    /// <summary>Output height. <value>The default is 112.</value></summary>
    public int Height { get; init; } = 112;

    /// <summary>Decode-and-augment worker threads. <value>The default is the processor count.</value></summary>
    public int Workers { get; init; } = Environment.ProcessorCount;

    /// <summary>Batches each worker may have ready ahead of the consumer. <value>The default is 2.</value></summary>
    public int PrefetchPerWorker { get; init; } = 2;

    /// <summary>Shuffle each epoch (seeded by <see cref="Seed"/> and the epoch). <value>The default is true.</value></summary>
    public bool Shuffle { get; init; } = true;

    /// <summary>
    /// Batches of identity pairs (FFC's identity loader): each epoch shuffles the identities with at least two images
    /// and draws two distinct images of each, placed next to each other, so a batch of B holds B / 2 identities x 2
    /// images. Identities with one image are left out (<see cref="BatchLoader.SingleImageIdentities"/>).
    /// <value>The default is false: every image once per epoch.</value>
    /// </summary>
    public bool IdentityPairs { get; init; }

    /// <summary>Drop the last incomplete batch. <value>The default is true.</value></summary>
    public bool DropLast { get; init; } = true;

    /// <summary>Seed of the order and of the augmentations. <value>The default is 0.</value></summary>
    public int Seed { get; init; }

    /// <summary>Replace unreadable images by the next readable one (and count them) instead of failing. <value>The default is false.</value></summary>
    public bool SkipBad { get; init; }

    /// <summary>Augmentations. <value>The default is a random horizontal flip only.</value></summary>
    public AugmentationOptions Augmentation { get; init; } = new();

    /// <summary>Pixel normalisation. <value>The default is <see cref="PixelNormalization.ArcFace"/>.</value></summary>
    public PixelNormalization Normalization { get; init; } = PixelNormalization.ArcFace;

    /// <summary>
    /// Template of the main crop: images are aligned to it when <see cref="Landmarks"/> are given, and aligned crops of
    /// another size are moved into its frame (<see cref="Alignment.FaceAligner.Reframe"/>) otherwise.
    /// <value>The default is null (aligned crops are resized whole).</value>
    /// </summary>
    public Alignment.AlignmentTemplate? Template { get; init; }

    /// <summary>
    /// More crops of every sample, after the main one (<see cref="Width"/>, <see cref="Height"/>,
    /// <see cref="Normalization"/>, <see cref="Template"/>): each made from the same image, landmarks and augmentation
    /// draw (<see cref="Batch.ViewPixels"/>). <value>The default is none.</value>
    /// </summary>
    public IReadOnlyList<InputView> ExtraViews { get; init; } = [];

    /// <summary>
    /// Five points per dataset image (by index): every view is aligned from the uncropped image by its template.
    /// <value>The default is null: images are aligned crops already.</value>
    /// </summary>
    public IReadOnlyList<Alignment.FaceLandmarks>? Landmarks { get; init; }

    /// <summary>
    /// Which part of each batch this loader builds, of <see cref="SliceCount"/> equal parts: a data-parallel rank's
    /// share. Positions (and so augmentations) stay those of the whole batch. <value>The default is 0.</value>
    /// </summary>
    public int SliceIndex { get; init; }

    /// <summary>Equal parts each batch is split into (the data-parallel world size). <value>The default is 1.</value></summary>
    public int SliceCount { get; init; } = 1;

    internal void Validate()
    {
        if (SliceCount < 1 || SliceIndex < 0 || SliceIndex >= SliceCount) throw new ArgumentException($"SliceIndex must lie in [0, SliceCount) (got {SliceIndex} of {SliceCount}).", nameof(SliceIndex));
        if (SliceCount > 1 && (BatchSize % SliceCount != 0 || !DropLast))
            throw new ArgumentException($"A batch of {BatchSize} cannot be split evenly over {SliceCount} processes; use a batch size divisible by {SliceCount} (and DropLast).", nameof(BatchSize));
        if (IdentityPairs && (BatchSize / SliceCount % 2 != 0 || !DropLast))
            throw new ArgumentException($"Identity pairs need an even batch per process (got {BatchSize} over {SliceCount}) and DropLast.", nameof(IdentityPairs));
        if (BatchSize < 1) throw new ArgumentException($"BatchSize must be at least 1 (got {BatchSize}).", nameof(BatchSize));
        if (Width < 1 || Height < 1) throw new ArgumentException($"Width and Height must be positive (got {Width}x{Height}).", nameof(Width));
        if (Workers < 1) throw new ArgumentException($"Workers must be at least 1 (got {Workers}).", nameof(Workers));
        if (PrefetchPerWorker < 1) throw new ArgumentException($"PrefetchPerWorker must be at least 1 (got {PrefetchPerWorker}).", nameof(PrefetchPerWorker));
        if (Normalization.Std == 0) throw new ArgumentException("Normalization.Std must not be zero.", nameof(Normalization));
        Augmentation.Validate();
        foreach (var (view, i) in Views.Select((v, i) => (v, i))) view.Validate(i == 0 ? "main view" : $"view {i}");
        if (Landmarks is not null && Views.Any(v => v.Template is null)) throw new ArgumentException("With Landmarks every view needs a Template.", nameof(Landmarks));
    }

    /// <summary>The main view, then <see cref="ExtraViews"/>.</summary>
    internal IReadOnlyList<InputView> Views => [new InputView(Width, Height, Normalization, Template), .. ExtraViews];
}
