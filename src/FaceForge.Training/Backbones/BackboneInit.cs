using FaceForge.Training.Runtime;
using TorchSharp;
using TorchSharp.Modules;

namespace FaceForge.Training.Backbones;

/// <summary>Weight initialisation shared by the backbones: Kaiming-normal convolutions and linears, unit norms.</summary>
internal static class BackboneInit
{
    public static void Kaiming(torch.nn.Module module)
    {
        using var noGrad = torch.no_grad();
        foreach (var (_, child) in module.named_modules())
        {
            switch (child)
            {
                case Conv2d conv:
                    torch.nn.init.kaiming_normal_(conv.weight, mode: torch.nn.init.FanInOut.FanOut, nonlinearity: torch.nn.init.NonlinearityType.ReLU);
                    conv.bias?.zero_();
                    break;
                case Linear linear:
                    torch.nn.init.normal_(linear.weight, 0, 0.01);
                    linear.bias?.zero_();
                    break;
                case BatchNorm bn:
                    bn.weight?.fill_(RootedScalars.One);
                    bn.bias?.zero_();
                    break;
            }
        }
    }
}
