using Xunit;

namespace FaceForge.Tests;

/// <summary>
/// The tests that force garbage collections on a second thread (<see cref="TensorSumTests.Hammer(Action, int, bool)"/>)
/// run alone, after the others: beside the rest of the suite the same tests took 3.5 and 5 minutes instead of about 20
/// seconds each (run alone), and made the suite's run time depend on which classes they shared the cores with.
/// </summary>
[CollectionDefinition(nameof(CollectorHammerCollection), DisableParallelization = true)]
public sealed class CollectorHammerCollection;
