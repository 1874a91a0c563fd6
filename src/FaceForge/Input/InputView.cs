using FaceForge.Alignment;

namespace FaceForge.Input;

/// <summary>
/// One crop the loader makes of every sample: its size, its pixel normalisation and, when the dataset has landmarks,
/// the template it is aligned to. Several views of one sample (a teacher's 112x96 crop and a student's 112x112 one)
/// share the sample's landmarks and its augmentation draw.
/// </summary>
/// <param name="Width">Crop width.</param>
/// <param name="Height">Crop height.</param>
/// <param name="Normalization">Pixel normalisation.</param>
/// <param name="Template">Alignment template (same size as the crop): images are aligned to it when the loader has landmarks, and aligned crops of another size are moved into its frame otherwise.</param>
public sealed record InputView(int Width, int Height, PixelNormalization Normalization, AlignmentTemplate? Template = null)
{
    internal void Validate(string name)
    {
        if (Width < 1 || Height < 1) throw new ArgumentException($"{name}: width and height must be positive (got {Width}x{Height}).", name);
        if (Normalization.Std == 0) throw new ArgumentException($"{name}: the normalisation's std must not be zero.", name);
        if (Template is { } t && (t.Width != Width || t.Height != Height))
            throw new ArgumentException($"{name}: template '{t.Name}' is {t.Width}x{t.Height}, the crop {Width}x{Height}.", name);
    }
}
