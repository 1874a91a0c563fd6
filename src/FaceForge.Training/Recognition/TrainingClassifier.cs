using FaceForge.Formats.PyTorch;
using FaceForge.Training.Classifiers;
using FaceForge.Training.Weights;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FaceForge.Training.Recognition;

/// <summary>How the trainer drives a classifier: the full softmax through autograd, or Partial FC with its own update.</summary>
internal interface ITrainingClassifier : IDisposable
{
    /// <summary>Parameters the trainer's optimizer updates (none for Partial FC, which updates its sampled rows itself).</summary>
    IEnumerable<Parameter> Parameters { get; }

    /// <summary>Loss of the batch, with its gradient sent back through <paramref name="features"/>; NaN (and no backward) if not finite.</summary>
    double LossAndBackward(Tensor features, Tensor labels);

    /// <summary>Called after the optimizer step.</summary>
    void AfterStep(double learningRate);

    /// <summary>State for checkpoints (weights, momentum, head buffers).</summary>
    Dictionary<string, TensorData> Export();

    /// <summary>Restores <see cref="Export"/>'s state.</summary>
    void Import(IReadOnlyDictionary<string, TensorData> state, string source);
}

/// <summary>The full softmax: every centre scored, autograd end to end.</summary>
internal sealed class FullSoftmaxTraining(MarginSoftmaxClassifier classifier) : ITrainingClassifier
{
    public IEnumerable<Parameter> Parameters => classifier.parameters();

    public double LossAndBackward(Tensor features, Tensor labels)
    {
        var loss = classifier.call(features, labels);
        double value = loss.item<float>();
        if (double.IsFinite(value)) loss.backward();
        return value;
    }

    public void AfterStep(double learningRate) { }

    public Dictionary<string, TensorData> Export() => StateDict.Export(classifier);

    public void Import(IReadOnlyDictionary<string, TensorData> state, string source) => StateDict.Load(classifier, state, strict: true, source);

    public void Dispose() => classifier.Dispose();
}

/// <summary>Partial FC: sampled centres, gradient (p - onehot)/N into the features, momentum on sampled rows only.</summary>
internal sealed class PartialFcTraining(PartialFc pfc, double momentum, double weightDecay) : ITrainingClassifier
{
    public IEnumerable<Parameter> Parameters => [];

    public double LossAndBackward(Tensor features, Tensor labels)
    {
        double loss = pfc.ForwardBackward(features, labels, out var gradient);
        if (double.IsFinite(loss)) features.backward([gradient]);
        return loss;
    }

    public void AfterStep(double learningRate) => pfc.Step(learningRate, momentum, weightDecay);

    public Dictionary<string, TensorData> Export()
    {
        var state = new Dictionary<string, TensorData>(StringComparer.Ordinal);
        for (int i = 0; i < pfc.Shards.Count; i++)
        {
            state[$"shard{i}.centres"] = StateDict.ToData(pfc.Shards[i].Centres);
            state[$"shard{i}.momentum"] = StateDict.ToData(pfc.Shards[i].Momentum);
            state[$"shard{i}.updated"] = StateDict.ToData(pfc.Shards[i].Updated);
        }
        var (sums, catchUpMomentum) = pfc.CatchUp.Export();
        using (sums) state["catch_up.sums"] = StateDict.ToData(sums);
        state["catch_up.momentum"] = new TensorData(TensorElementType.Float64, [1], BitConverter.GetBytes(catchUpMomentum));
        foreach (var (name, tensor) in pfc.Head.state_dict()) state[$"head.{name}"] = StateDict.ToData(tensor);
        state["sampler.step"] = new TensorData(TensorElementType.Int64, [1], BitConverter.GetBytes(pfc.SamplerStep));
        return state;
    }

    public void Import(IReadOnlyDictionary<string, TensorData> state, string source)
    {
        int saved = state.Keys.Count(k => k.EndsWith(".centres", StringComparison.Ordinal));
        if (saved != pfc.Shards.Count)
            throw new InvalidDataException($"{source}: saved with {saved} class shards, the run now has {pfc.Shards.Count}; reshard the checkpoint for {pfc.Shards.Count} shards first.");
        using var noGrad = torch.no_grad();
        for (int i = 0; i < pfc.Shards.Count; i++)
        {
            foreach (var (suffix, target) in new[] { ("centres", pfc.Shards[i].Centres), ("momentum", pfc.Shards[i].Momentum) })
            {
                var data = state[$"shard{i}.{suffix}"];
                if (!data.Shape.SequenceEqual(target.shape))
                    throw new InvalidDataException($"{source}: shard {i} {suffix} is {data.ShapeText}, expected [{string.Join(", ", target.shape)}] (another class count?).");
                using var value = StateDict.ToTensor(data);
                using var converted = value.to_type(target.dtype); // held until the copy ends (see StateDict.Load)
                target.copy_(converted);
            }
        }
        // Checkpoints from before the momentum catch-up: every row counts as current.
        if (state.TryGetValue("catch_up.sums", out var sums))
        {
            using var sumsTensor = StateDict.ToTensor(sums);
            pfc.CatchUp.Import(sumsTensor, BitConverter.ToDouble(state["catch_up.momentum"].Data));
        }
        for (int i = 0; i < pfc.Shards.Count; i++)
        {
            if (!state.TryGetValue($"shard{i}.updated", out var updated)) { using Scalar last = pfc.Updates - 1; pfc.Shards[i].Updated.fill_(last); }
            else if (updated.Shape.Length != 1 || updated.Shape[0] != pfc.Shards[i].Count)
                throw new InvalidDataException($"{source}: shard {i} update steps are {updated.ShapeText}, expected [{pfc.Shards[i].Count}].");
            else
            {
                using var value = StateDict.ToTensor(updated);
                pfc.Shards[i].Updated.copy_(value);
            }
        }
        StateDict.Load(pfc.Head, state.Where(kv => kv.Key.StartsWith("head.", StringComparison.Ordinal)).ToDictionary(kv => kv.Key[5..], kv => kv.Value), strict: true, source);
        pfc.SamplerStep = state.TryGetValue("sampler.step", out var step) ? BitConverter.ToInt64(step.Data) : 0;
    }

    public void Dispose() => pfc.Dispose();
}
