namespace FaceForge.Detection;

/// <summary>Settings shared by every detector.</summary>
public sealed record DetectorOptions
{
    /// <summary>The smallest image side a detector takes.</summary>
    public const int MinImageSide = 8;

    /// <summary>The smallest <see cref="MaxSide"/>.</summary>
    public const int MinMaxSide = 32;

    /// <summary>Minimum score kept. <value>The default is 0.5.</value></summary>
    public float ConfidenceThreshold { get; init; } = 0.5f;

    /// <summary>IoU above which a lower-scored box is suppressed. <value>The default is 0.4.</value></summary>
    public float NmsThreshold { get; init; } = 0.4f;

    /// <summary>
    /// Images whose longer side exceeds this are downscaled before detection (and the results mapped back), which caps
    /// time and memory on huge photos; light detectors such as RetinaFace-mnet0.25 are also most accurate at about
    /// 640 px (its reference demo's long side). <value>The default is 640.</value>
    /// </summary>
    public int MaxSide { get; init; } = 640;

    /// <summary>
    /// Whether a dark photo (the brightest one per cent of its pixels below mid-grey in every channel) is brightened before detection
    /// (<see cref="DarkPhotoStretch"/>; boxes and landmarks refer to the photo as given, and well-lit photos are not
    /// touched). <value>The default is true.</value>
    /// </summary>
    public bool BrightenDarkPhotos { get; init; } = true;

    /// <summary>Most faces returned per image. <value>The default is 750.</value></summary>
    public int MaxFaces { get; init; } = 750;

    /// <summary>Refuses an image smaller than <see cref="MinImageSide"/> on a side: every detector's first check.</summary>
    internal static void RequireDetectable(int width, int height)
    {
        if (width < MinImageSide || height < MinImageSide)
            throw new ArgumentException($"Image of {width}x{height} is too small to detect faces in (at least {MinImageSide}x{MinImageSide}).");
    }

    /// <summary>What a detector looks at: <paramref name="image"/>, brightened first when it is dark and <see cref="BrightenDarkPhotos"/> is set.</summary>
    internal Imaging.RgbImage DetectorView(Imaging.RgbImage image) => BrightenDarkPhotos ? DarkPhotoStretch.Apply(image) : image;

    internal void Validate()
    {
        // Written so that NaN fails too. No parameter name in the messages: the CLI's options carry other names.
        if (!(ConfidenceThreshold >= 0 && ConfidenceThreshold <= 1)) throw new ArgumentException($"The confidence threshold must be in [0, 1] (got {ConfidenceThreshold}).");
        if (!(NmsThreshold > 0 && NmsThreshold <= 1)) throw new ArgumentException($"The NMS IoU threshold must be in (0, 1] (got {NmsThreshold}).");
        if (MaxSide < MinMaxSide) throw new ArgumentException($"The largest side must be at least {MinMaxSide} pixels (got {MaxSide}).");
        if (MaxFaces < 1) throw new ArgumentException($"At least one face must be allowed per image (got {MaxFaces}).");
    }
}
