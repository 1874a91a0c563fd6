using FaceForge.Imaging;
using FaceForge.Pipeline;

// onnx-quickstart DETECTOR.onnx MODEL.onnx PHOTO_A PHOTO_B: the comparison of QuickStart with FaceForge.Core alone
// (ONNX Runtime, no libtorch) on models exported by `faceforge export onnx`.
using var faces = new FaceModels().OpenPipeline(args[0], args[1]);
var result = faces.Pipeline.Verify(ImageDecoder.Decode(args[2]), ImageDecoder.Decode(args[3]));
Console.WriteLine(result is null ? "no face found"
    : result.Same is not bool same ? $"score {result.Score:0.000}: no threshold (calibrate the model with faceforge eval verify --calibrate)"
    : $"score {result.Score:0.000}, threshold {result.Threshold:0.000}: {(same ? "same person" : "different people")}");
