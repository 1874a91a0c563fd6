using FaceForge.Imaging;
using FaceForge.Pipeline;
using FaceForge.Training.Detection;
using FaceForge.Training.Runtime;

// quickstart MODEL.ffm PHOTO_A PHOTO_B: detect, align, embed and compare the largest face of each photo.
using var detector = TorchFaceDetector.OpenBuiltIn();
using var embedder = new FaceModels(new TorchModelBackend()).OpenEmbedder(args[0]);
var pipeline = new FacePipeline(detector, embedder);
var result = pipeline.Verify(ImageDecoder.Decode(args[1]), ImageDecoder.Decode(args[2]));
Console.WriteLine(result is null ? "no face found"
    : result.Same is not bool same ? $"score {result.Score:0.000}: no threshold (calibrate the model with faceforge eval verify --calibrate)"
    : $"score {result.Score:0.000}, threshold {result.Threshold:0.000}: {(same ? "same person" : "different people")}");
