using System.Text.Json;
using FaceForge.Training.Runtime;
using TorchSharp;
using Xunit;

namespace FaceForge.Tests;

public class ModelInfoTests
{
    [Fact]
    public void MultiplyAddsAreCountedFromTheLayersThatRun()
    {
        TorchRuntime.EnsureLoaded();
        // conv 3->8, 3x3, padding 1 on 8x8: 512 outputs x 3 x 9 = 13,824; linear 512->10: 10 x 512 = 5,120.
        using var network = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding: 1), torch.nn.Flatten(), torch.nn.Linear(512, 10));
        var (parameters, macs) = NetworkComplexity.Measure(network, 8, 8, x => network.call(x));
        Assert.Equal(8 * 3 * 9 + 8 + 512 * 10 + 10, parameters);
        Assert.Equal(13_824 + 5_120, macs);
        // Grouped (depthwise) convolutions count their groups: 16 outputs of a 4-channel depthwise 3x3 on 2x2.
        using var depthwise = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 1), torch.nn.Conv2d(4, 4, 3, padding: 1, groups: 4));
        Assert.Equal(16 * 3 + 16 * 9, NetworkComplexity.Measure(depthwise, 2, 2, x => depthwise.call(x)).MultiplyAdds);
    }

    [Fact]
    public void ModelInfoDescribesAFile()
    {
        string model = TestModels.Random();
        var (code, output, error) = CliHarness.Run("model", "info", model, "--json");
        Assert.True(code == 0, error);
        var json = JsonDocument.Parse(output).RootElement;
        Assert.Equal("mobilefacenet", json.GetProperty("architecture").GetString());
        Assert.Equal(32, json.GetProperty("embedding_size").GetInt32());
        Assert.Equal(112, json.GetProperty("input_width").GetInt32());
        Assert.True(json.GetProperty("parameters").GetInt64() > 10_000);
        Assert.True(json.GetProperty("multiply_adds").GetInt64() > json.GetProperty("parameters").GetInt64());
        Assert.Equal("none", json.GetProperty("quality").GetString());
        Assert.Equal("arcface-112x112", json.GetProperty("template").GetString());
        // A MagFace-trained model says its quality is the magnitude.
        var (info, weights) = FaceForge.Models.ModelFile.Read(model);
        string magFace = Path.Combine(Path.GetDirectoryName(model)!, "magface.ffm");
        FaceForge.Models.ModelFile.Save(magFace, info with { Quality = FaceForge.Models.QualityKind.Magnitude }, weights);
        (code, output, error) = CliHarness.Run("model", "info", magFace, "--json");
        Assert.True(code == 0, error);
        Assert.Equal("magnitude", JsonDocument.Parse(output).RootElement.GetProperty("quality").GetString());
        Assert.Equal(2, CliHarness.Run("model", "info", Path.GetDirectoryName(model)!).Code);
    }
}
