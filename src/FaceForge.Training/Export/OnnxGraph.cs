using FaceForge.Training.Backbones;
using FaceForge.Training.Export.Onnx;
using Google.Protobuf;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FaceForge.Training.Export;

/// <summary>
/// Builds an ONNX graph from TorchSharp modules: standard layers are written here (convolutions with the batch norm
/// that follows them folded in, linears with their BatchNorm1d folded in, PReLU, activations, pooling), FaceForge's
/// own blocks through <see cref="IOnnxExportable"/>. Any other layer stops the export, named by its path.
/// </summary>
/// <remarks>Not thread-safe. Weights are read as float32 from the modules in their current state (inference: batch
/// norms use their running statistics).</remarks>
internal sealed class OnnxGraph
{
    private readonly GraphProto _graph = new();
    private readonly Stack<string> _path = new();
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private int _counter;

    /// <summary>The graph written so far.</summary>
    public GraphProto Proto => _graph;

    /// <summary>A graph input of float32 with the given dimensions (null for the dynamic batch axis).</summary>
    public string Input(string name, params object[] dims)
    {
        _graph.Input.Add(ValueInfo(name, dims));
        _names.Add(name);
        return name;
    }

    /// <summary>Marks <paramref name="value"/> as the graph output <paramref name="name"/> (renamed through Identity when needed).</summary>
    public void Output(string value, string name, params object[] dims)
    {
        if (value != name) Node("Identity", [value], output: name);
        _graph.Output.Add(ValueInfo(name, dims));
    }

    /// <summary>Writes <paramref name="module"/> applied to <paramref name="input"/>; <paramref name="name"/> is its path segment.</summary>
    public string Emit(nn.Module module, string input, string name)
    {
        _path.Push(name);
        try
        {
            return module switch
            {
                IOnnxExportable custom => custom.ExportOnnx(this, input),
                Sequential sequential => EmitSequence(sequential.named_children().ToList(), input),
                Conv2d conv => Conv(conv, null, input),
                BatchNorm bn => BatchNorm(bn, input),
                Linear linear => Gemm(linear, null, input),
                ChannelPReLU prelu => PRelu(prelu, input),
                ReLU => Node("Relu", [input]),
                Sigmoid => Node("Sigmoid", [input]),
                Dropout or Identity => input,
                Flatten flatten when flatten.start_dim == 1 && flatten.end_dim == -1 => Node("Flatten", [input], Ints("axis", 1)),
                AdaptiveAvgPool2d pool when pool.output_size.All(s => s == 1) => Node("GlobalAveragePool", [input]),
                _ => throw new NotSupportedException($"ONNX export: layer '{Path}' ({module.GetType().Name}) is not supported."),
            };
        }
        finally
        {
            _path.Pop();
        }
    }

    /// <summary>Children in order, folding each Conv2d + BatchNorm and Linear + BatchNorm pair into one node.</summary>
    public string EmitSequence(IReadOnlyList<(string Name, nn.Module Module)> children, string input)
    {
        for (int i = 0; i < children.Count; i++)
        {
            var (name, module) = children[i];
            var next = i + 1 < children.Count ? children[i + 1].Module : null;
            if (module is Conv2d conv && next is BatchNorm bn2)
            {
                _path.Push(name);
                input = Conv(conv, bn2, input);
                _path.Pop();
                i++;
            }
            else if (module is Linear linear && next is BatchNorm bn1)
            {
                _path.Push(name);
                input = Gemm(linear, bn1, input);
                _path.Pop();
                i++;
            }
            else input = Emit(module, input, name);
        }
        return input;
    }

    /// <summary>A convolution, with the batch norm that follows it folded into its weights and bias.</summary>
    public string Conv(Conv2d conv, BatchNorm? bn, string input)
    {
        if (conv.padding_mode != PaddingModes.Zeros || conv.padding is not { Length: 2 })
            throw new NotSupportedException($"ONNX export: layer '{Path}' uses padding mode {conv.padding_mode}; only zero padding is supported.");
        var weight = Floats(conv.weight!);
        long outChannels = conv.out_channels;
        var bias = conv.bias is null ? new float[outChannels] : Floats(conv.bias);
        if (bn is not null) Fold(bn, weight, bias, outChannels);
        long[] shape = conv.weight!.shape;
        var inputs = new List<string> { input, Constant("weight", weight, shape) };
        if (conv.bias is not null || bn is not null) inputs.Add(Constant("bias", bias, [outChannels]));
        long[] pads = [conv.padding[0], conv.padding[1], conv.padding[0], conv.padding[1]];
        return Node("Conv", [.. inputs],
            Ints("kernel_shape", shape[2], shape[3]), Ints("strides", conv.stride), Ints("pads", pads), Ints("dilations", conv.dilation), Ints("group", conv.groups));
    }

    /// <summary>A linear layer as Gemm (transposed weight), with a following BatchNorm1d folded in.</summary>
    public string Gemm(Linear linear, BatchNorm? bn, string input)
    {
        var weight = Floats(linear.weight!);
        long outFeatures = linear.out_features;
        var bias = linear.bias is null ? new float[outFeatures] : Floats(linear.bias);
        if (bn is not null) Fold(bn, weight, bias, outFeatures);
        return Node("Gemm", [input, Constant("weight", weight, linear.weight!.shape), Constant("bias", bias, [outFeatures])], Ints("transB", 1));
    }

    /// <summary>A standalone batch norm (one that does not follow a convolution: folding it backwards would be wrong at padded borders).</summary>
    public string BatchNorm(BatchNorm bn, string input)
    {
        long c = bn.num_features;
        var (scale, shift) = Affine(bn);
        return Node("BatchNormalization", [input, Constant("scale", scale, [c]), Constant("bias", shift, [c]), Constant("mean", new float[c], [c]), Constant("var", Enumerable.Repeat(1f, (int)c).ToArray(), [c])],
            Float("epsilon", 0));
    }

    /// <summary>
    /// PReLU over feature maps, written without ONNX's PRelu: ONNX Runtime's CPU provider runs convolutions in a blocked
    /// channel layout (NCHWc) and PRelu is not one of its blocked operators, so every PRelu cost a reorder out of that
    /// layout and back (about 70 % of MobileFaceNet's time with the PRelu itself). Per-channel slopes a become
    /// y = x + (1 - a) relu(-x): two depthwise 1x1 convolutions (weights -1 with the Relu, then 1 - a with the Add)
    /// that ONNX Runtime fuses and keeps blocked; one shared slope is LeakyRelu.
    /// </summary>
    public string PRelu(ChannelPReLU prelu, string input)
    {
        var slope = Floats(prelu.Weight);
        if (slope.Length == 1) return Node("LeakyRelu", [input], Float("alpha", slope[0]));
        long c = slope.Length;
        long[] shape = [c, 1, 1, 1];
        AttributeProto[] depthwise = [Ints("kernel_shape", 1, 1), Ints("group", c)];
        var negative = Node("Relu", [Node("Conv", [input, Constant("negate", Enumerable.Repeat(-1f, (int)c).ToArray(), shape)], depthwise)]);
        var scaled = Node("Conv", [negative, Constant("one_minus_slope", slope.Select(a => 1 - a).ToArray(), shape)], depthwise);
        return Node("Add", [input, scaled]);
    }

    /// <summary>A node with one output; returns that output's name.</summary>
    public string Node(string op, string[] inputs, params AttributeProto[] attributes) => Node(op, inputs, null, attributes);

    /// <summary>A node with one output named <paramref name="output"/> (or a fresh name).</summary>
    public string Node(string op, string[] inputs, string? output, params AttributeProto[] attributes)
    {
        output ??= Fresh(op.ToLowerInvariant());
        var node = new NodeProto { OpType = op, Name = Fresh("node_" + op) };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        node.Attribute.AddRange(attributes);
        _graph.Node.Add(node);
        return output;
    }

    /// <summary>A float32 initialiser named after the current layer path.</summary>
    public string Constant(string hint, float[] data, long[] dims)
    {
        var tensor = new TensorProto { Name = Fresh(hint), DataType = (int)TensorProto.Types.DataType.Float, RawData = ByteString.CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes(data.AsSpan())) };
        tensor.Dims.AddRange(dims);
        _graph.Initializer.Add(tensor);
        return tensor.Name;
    }

    /// <summary>An int64 initialiser (shapes, axes).</summary>
    public string Int64Constant(string hint, params long[] data)
    {
        var tensor = new TensorProto { Name = Fresh(hint), DataType = (int)TensorProto.Types.DataType.Int64, RawData = ByteString.CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes(data.AsSpan())) };
        tensor.Dims.Add(data.Length);
        _graph.Initializer.Add(tensor);
        return tensor.Name;
    }

    /// <summary>An integer or integer-list attribute (one value gives a scalar attribute for "axis", "group", "transB" and the like).</summary>
    public static AttributeProto Ints(string name, params long[] values)
    {
        bool scalar = values.Length == 1 && name is "axis" or "group" or "transB" or "keepdims";
        var attribute = new AttributeProto { Name = name, Type = scalar ? AttributeProto.Types.AttributeType.Int : AttributeProto.Types.AttributeType.Ints };
        if (scalar) attribute.I = values[0];
        else attribute.Ints.AddRange(values);
        return attribute;
    }

    /// <summary>A float attribute.</summary>
    public static AttributeProto Float(string name, float value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    /// <summary>A string attribute.</summary>
    public static AttributeProto String(string name, string value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

    /// <summary>The current layer path, dotted like a state-dict key.</summary>
    public string Path => string.Join('.', _path.Reverse().Where(p => p.Length > 0));

    /// <summary>Runs <paramref name="emit"/> with <paramref name="name"/> appended to the layer path.</summary>
    public T Scoped<T>(string name, Func<T> emit)
    {
        _path.Push(name);
        try { return emit(); }
        finally { _path.Pop(); }
    }

    /// <summary>The values of a tensor as float32.</summary>
    public static float[] Floats(Tensor tensor)
    {
        using var scope = torch.NewDisposeScope();
        return tensor.detach().to(ScalarType.Float32).cpu().contiguous().data<float>().ToArray();
    }

    // y = gamma (x - mean) / sqrt(var + eps) + beta, as scale * x + shift per channel.
    private static (float[] Scale, float[] Shift) Affine(BatchNorm bn)
    {
        long c = bn.num_features;
        var mean = Floats(bn.running_mean!);
        var variance = Floats(bn.running_var!);
        var gamma = bn.weight is null ? Enumerable.Repeat(1f, (int)c).ToArray() : Floats(bn.weight);
        var beta = bn.bias is null ? new float[c] : Floats(bn.bias);
        var scale = new float[c];
        var shift = new float[c];
        for (int i = 0; i < c; i++)
        {
            // In double: the folded weights must reproduce libtorch's float32 batch norm to ~1e-6.
            double s = gamma[i] / Math.Sqrt(variance[i] + bn.eps);
            scale[i] = (float)s;
            shift[i] = (float)(beta[i] - mean[i] * s);
        }
        return (scale, shift);
    }

    // Scales each output row of weight (rows = channels) and turns bias into scale * bias + shift.
    private static void Fold(BatchNorm bn, float[] weight, float[] bias, long channels)
    {
        if (bn.num_features != channels) throw new InvalidOperationException($"Batch norm of {bn.num_features} features after a layer of {channels} outputs.");
        var (scale, shift) = Affine(bn);
        int row = (int)(weight.Length / channels);
        for (int c = 0; c < channels; c++)
        {
            for (int k = 0; k < row; k++) weight[c * row + k] *= scale[c];
            bias[c] = bias[c] * scale[c] + shift[c];
        }
    }

    private string Fresh(string hint)
    {
        string basis = Path.Length == 0 ? hint : $"{Path}.{hint}";
        string name = basis;
        while (!_names.Add(name)) name = $"{basis}_{++_counter}";
        return name;
    }

    private static ValueInfoProto ValueInfo(string name, object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
            shape.Dim.Add(d is string symbol ? new TensorShapeProto.Types.Dimension { DimParam = symbol } : new TensorShapeProto.Types.Dimension { DimValue = Convert.ToInt64(d) });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } },
        };
    }
}
