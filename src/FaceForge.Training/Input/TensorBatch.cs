using FaceForge.Input;
using TorchSharp;
using static TorchSharp.torch;

namespace FaceForge.Training.Input;

/// <summary>Turns a <see cref="Batch"/> into tensors: one copy of the pixels per batch.</summary>
public static class TensorBatch
{
    /// <summary>Images as float32 N x 3 x H x W and labels as int64 N, on <paramref name="device"/>.</summary>
    public static (Tensor Images, Tensor Labels) ToTensors(Batch batch, Device? device = null)
    {
        var images = torch.empty([batch.Count, 3, batch.Height, batch.Width], ScalarType.Float32);
        images.data<float>().CopyFrom(batch.Pixels);
        var labels = torch.tensor(batch.Labels.Select(l => (long)l).ToArray(), ScalarType.Int64);
        if (device is not null && device.type != DeviceType.CPU)
            return (images.to(device), labels.to(device));
        return (images, labels);
    }

    /// <summary>View <paramref name="view"/> of the batch's samples as float32 N x 3 x H x W.</summary>
    public static Tensor ViewToTensor(Batch batch, int view)
    {
        var (width, height) = batch.ViewSize(view);
        var images = torch.empty([batch.Count, 3, height, width], ScalarType.Float32);
        images.data<float>().CopyFrom(batch.ViewPixels(view));
        return images;
    }
}
