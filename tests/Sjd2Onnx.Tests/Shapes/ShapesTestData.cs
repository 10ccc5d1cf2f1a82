using Sjd2Onnx.Evaluation;

namespace Sjd2Onnx.Tests;

/// <summary>
/// The shapes world of the default model (onnx/shapes_world.json) and its rendered ground truth
/// (tests/data/shapes/), both written by tools/pysjd2/shapes.py. Missing files fail the tests with
/// a message saying how to make them; SJD2_SHAPES_WORLD and SJD2_SHAPES_DATA point elsewhere.
/// </summary>
internal static class ShapesTestData
{
    private static readonly Lazy<ShapesEvaluator> LazyEvaluator = new(() => ShapesEvaluator.Load(WorldPath));
    private static readonly Lazy<ShapesGroundTruth> LazyGroundTruth = new(() => ShapesGroundTruth.Load(DataDir));
    private static readonly Lazy<ShapesValidationReport> LazyReport = new(() => GroundTruth.Validate(Evaluator));

    public static string RepoRoot => Support.TestPaths.RepoRoot;

    public static string WorldPath => Require(Environment.GetEnvironmentVariable("SJD2_SHAPES_WORLD")
        ?? Path.Combine(RepoRoot, "onnx", ShapesWorld.FileName), "the shapes world definition of the default model");

    public static string DataDir => Require(Environment.GetEnvironmentVariable("SJD2_SHAPES_DATA")
        ?? Path.Combine(RepoRoot, "tests", "data", "shapes"), "the shapes ground-truth data");

    public static ShapesEvaluator Evaluator => LazyEvaluator.Value;
    public static ShapesGroundTruth GroundTruth => LazyGroundTruth.Value;

    /// <summary>The evaluator on the ground truth (agreement and rejection), computed once.</summary>
    public static ShapesValidationReport Report => LazyReport.Value;

    private static string Require(string path, string what)
    {
        if (!File.Exists(path) && !Directory.Exists(path))
            Assert.Fail($"{what} is missing at '{path}': it is written by tools/pysjd2/shapes.py (write_world / write_test_data) " +
                        "and committed with the default model; merge main or generate it.");
        return path;
    }
}
