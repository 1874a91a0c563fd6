namespace FaceForge.Training.Export;

/// <summary>A FaceForge module whose forward pass is code, not a layer list: it writes its own ONNX nodes.</summary>
internal interface IOnnxExportable
{
    /// <summary>Writes the module applied to <paramref name="input"/>; returns the output value's name.</summary>
    string ExportOnnx(OnnxGraph graph, string input);
}

/// <summary>A backbone split at its last feature map (where a PFE uncertainty head attaches), in ONNX.</summary>
internal interface IOnnxBackbone
{
    /// <summary>The last feature map of <paramref name="input"/>.</summary>
    string ExportFeatureMap(OnnxGraph graph, string input);

    /// <summary>The raw (unnormalised) embedding of a feature map.</summary>
    string ExportEmbed(OnnxGraph graph, string featureMap);
}
