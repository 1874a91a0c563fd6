using System.Globalization;
using FaceForge.Training.Backbones;
using FaceForge.Training.Classifiers;
using FaceForge.Training.Heads;
using FaceForge.Training.Optimizers;
using FaceForge.Training.Recognition;
using TorchSharp;
using static TorchSharp.torch;

// Synthetic identities in feature space: each identity is a point in R^32, each of its K "images" that point plus
// noise, seen through a fixed random mixing and tanh. An MLP backbone learns 64-d embeddings with ArcFace (s 32,
// m 0.3) through PartialFc, with the trainer's recipe (SGD 0.1, momentum 0.9, weight decay 5e-4 on weights only,
// half an epoch of warmup, polynomial decay, backbone gradient clip 5). Scored by rank-1 identification of 400
// held-out identities (3 gallery, 3 probe samples each). The data depend only on --classes, never on --seed.
// With --method ffc the classifier is FFC's class pool instead (--pool: a fraction of the classes): a gallery MLP
// (EMA 0.99 of the trained one) writes the pool, and each step adds 32 identity pairs to the 64 instances.
// Usage: pfc-proxy --classes 8000 --rate 0.1 [--epochs 4] [--seed 1] [--momentum catch-up|sampled-only] [--noise 0.7]
//        pfc-proxy --classes 8000 --method ffc --pool 0.1 [--epochs 4] [--seed 1]
var options = args.Select((a, i) => (a, i)).Where(p => p.a.StartsWith("--", StringComparison.Ordinal))
    .ToDictionary(p => p.a[2..], p => p.i + 1 < args.Length ? args[p.i + 1] : "", StringComparer.Ordinal);
string Get(string name, string fallback) => options.TryGetValue(name, out var v) ? v : fallback;
long classes = long.Parse(Get("classes", "2000"), CultureInfo.InvariantCulture);
double rate = double.Parse(Get("rate", "0.1"), CultureInfo.InvariantCulture);
int epochs = int.Parse(Get("epochs", "4"), CultureInfo.InvariantCulture);
int seed = int.Parse(Get("seed", "1"), CultureInfo.InvariantCulture);
double noise = double.Parse(Get("noise", "0.7"), CultureInfo.InvariantCulture);
var momentum = Get("momentum", "catch-up") switch
{
    "catch-up" => CentreMomentum.CatchUp,
    "sampled-only" => CentreMomentum.SampledOnly,
    var other => throw new ArgumentException($"--momentum: '{other}' is not catch-up or sampled-only."),
};
bool ffc = Get("method", "pfc") switch { "pfc" => false, "ffc" => true, var other => throw new ArgumentException($"--method: '{other}' is not pfc or ffc.") };
double poolFraction = double.Parse(Get("pool", "0.1"), CultureInfo.InvariantCulture);
const int samples = 5, inputs = 32, embedding = 64, batch = 64, testIdentities = 400;
torch.set_num_threads(1);
torch.manual_seed(seed);
var clock = System.Diagnostics.Stopwatch.StartNew();

using var data = new Generator(1234);
var identities = torch.randn([classes + testIdentities, inputs], generator: data);
var mixing = torch.randn([inputs, inputs], generator: data) / Math.Sqrt(inputs);
Tensor Render(Tensor points, Tensor jitter) => torch.tanh((points + noise * jitter).matmul(mixing) * 1.5);
var trainX = Render(identities.narrow(0, 0, classes).unsqueeze(1), torch.randn([classes, samples, inputs], generator: data)).reshape(classes * samples, inputs);
var trainY = torch.arange(classes).repeat_interleave(torch.tensor((long)samples));
var testX = Render(identities.narrow(0, classes, testIdentities).unsqueeze(1), torch.randn([testIdentities, 6, inputs], generator: data));

nn.Module<Tensor, Tensor> Mlp() => nn.Sequential(nn.Linear(inputs, 256), BatchNormLayer.Features(256), nn.ReLU(), nn.Linear(256, 256), BatchNormLayer.Features(256), nn.ReLU(),
    nn.Linear(256, embedding), BatchNormLayer.Features(embedding));
var backbone = Mlp();
using var pfc = ffc ? null : new PartialFc(classes, embedding, CombinedMarginHead.ArcFace(0.3, 32), new PartialFcOptions { SampleRate = rate, Momentum = momentum, Seed = seed });
using var pool = ffc ? new FfcClassifier(Math.Max(1, (int)Math.Round(poolFraction * classes)), embedding, CombinedMarginHead.ArcFace(0.3, 32)) : null;
var galleryNet = Mlp();
using (torch.no_grad())
    foreach (var (g, p) in galleryNet.parameters().Zip(backbone.parameters())) { g.copy_(p); g.requires_grad = false; }
galleryNet.train();
const int pairsPerStep = batch / 2;
int pairBatches = (int)(classes / pairsPerStep);
var weights = backbone.named_parameters().Where(p => p.name.EndsWith("weight", StringComparison.Ordinal) && p.parameter.dim() > 1).Select(p => p.parameter).ToList();
var others = backbone.parameters().Except(weights).ToList();
using var optimizer = new SgdOptimizer([new SgdOptimizer.ParamGroup(weights, new() { weight_decay = 5e-4 }), new SgdOptimizer.ParamGroup(others, new() { weight_decay = 0 })], 0.1, momentum: 0.9);
int perEpoch = (int)(classes * samples / batch), step = 0;
var schedule = new LearningRateSchedule(0.1, perEpoch / 2, perEpoch * epochs, ScheduleKind.Polynomial, 2, []);
using var shuffle = new Generator((ulong)seed);
double lastEpochLoss = 0;
backbone.train();
for (int epoch = 0; epoch < epochs; epoch++)
{
    using var order = torch.randperm(classes * samples, generator: shuffle);
    for (int b = 0; b < perEpoch; b++, step++)
    {
        using var scope = torch.NewDisposeScope();
        double lr = schedule.At(step);
        foreach (var group in optimizer.ParamGroups) group.LearningRate = lr;
        var picked = order.narrow(0, (long)b * batch, batch);
        optimizer.zero_grad();
        double loss;
        if (pool is null)
        {
            var features = backbone.call(trainX.index_select(0, picked) + 0.05 * torch.randn([batch, inputs], generator: shuffle));
            loss = pfc!.ForwardBackward(features, trainY.index_select(0, picked), out var gradient);
            features.backward([gradient]);
        }
        else
        {
            // Pairs: 32 identities of this pair batch, two distinct samples each.
            var identitiesOrder = torch.randperm(classes, generator: new Generator((ulong)(seed * 1000 + step / pairBatches)));
            var pairIds = identitiesOrder.narrow(0, (long)(step % pairBatches) * pairsPerStep, pairsPerStep);
            var first = torch.randint(0, samples, [pairsPerStep], generator: shuffle);
            var second = (first + torch.randint(1, samples, [pairsPerStep], generator: shuffle)).remainder(samples);
            var half = picked.narrow(0, 0, batch / 2);
            var rest = picked.narrow(0, batch / 2, batch / 2);
            var xIndex = torch.cat([pairIds * samples + first, half]);
            var yIndex = torch.cat([pairIds * samples + second, rest]);
            Tensor Input(Tensor index) => trainX.index_select(0, index) + 0.05 * torch.randn([index.shape[0], inputs], generator: shuffle);
            var x = Input(xIndex);
            var y = Input(yIndex);
            FfcClassifier.UpdateGallery(galleryNet, backbone, 0.99);
            Tensor gx, gy;
            using (torch.no_grad()) { gy = galleryNet.call(y); gx = galleryNet.call(x); }
            var total = pool.Step(backbone.call(x), trainY.index_select(0, xIndex), gx, backbone.call(y), trainY.index_select(0, yIndex), gy);
            loss = total.item<float>();
            total.backward();
        }
        nn.utils.clip_grad_norm_(backbone.parameters(), 5);
        optimizer.step();
        pfc?.Step(lr, 0.9, 5e-4);
        if (epoch == epochs - 1) lastEpochLoss += loss / perEpoch;
    }
}
backbone.eval();
using (torch.no_grad())
{
    var embeddings = nn.functional.normalize(backbone.call(testX.reshape(testIdentities * 6, inputs)), dim: 1).reshape(testIdentities, 6, embedding);
    var gallery = nn.functional.normalize(embeddings.narrow(1, 0, 3).mean([1L]), dim: 1);
    var probes = embeddings.narrow(1, 3, 3).reshape(testIdentities * 3, embedding);
    var truth = torch.arange(testIdentities).repeat_interleave(torch.tensor(3L));
    double rank1 = probes.matmul(gallery.t()).argmax(1).eq(truth).to_type(ScalarType.Float32).mean().item<float>();
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{{\"classes\": {classes}, \"method\": \"{(ffc ? "ffc" : "pfc")}\", \"pool\": {(ffc ? poolFraction : 0)}, \"rate\": {(ffc ? 0 : rate)}, \"momentum\": \"{Get("momentum", "catch-up")}\", \"epochs\": {epochs}, \"seed\": {seed}, \"final_loss\": {lastEpochLoss:F3}, \"rank1\": {rank1:F4}, \"seconds\": {clock.Elapsed.TotalSeconds:F1}}}"));
}
