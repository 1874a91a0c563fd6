using Xunit;

// libtorch's random generator is process-global: tests that seed it (training, initialisation) would see each
// other's draws if run in parallel, so test classes run one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
