using Sjd2Onnx.Evaluation;

namespace Sjd2Onnx.Tests;

/// <summary>
/// The TextureEval agreement fixture (tests/data/texture-eval/): the entropy world's definition,
/// renders, corruptions and noisy renders with the Python evaluator's verdicts, written by
/// <c>python -m tools.pysjd2.texture_eval_fixture</c>; SJD2_TEXTURE_EVAL_DATA points at a wider one
/// written by the same script.
/// </summary>
internal static class TextureTestData
{
    private static readonly Lazy<TextureEvaluator> LazyEvaluator = new(() => TextureEvaluator.Load(Path.Combine(DataDir, TextureWorld.FileName)));

    public static string DataDir
    {
        get
        {
            string dir = Environment.GetEnvironmentVariable("SJD2_TEXTURE_EVAL_DATA")
                ?? Path.Combine(Support.TestPaths.RepoRoot, "tests", "data", "texture-eval");
            if (!File.Exists(Path.Combine(dir, "cases.json")))
                Assert.Fail($"the TextureEval fixture is missing at '{dir}'; write it with python -m tools.pysjd2.texture_eval_fixture.");
            return dir;
        }
    }

    public static TextureEvaluator Evaluator => LazyEvaluator.Value;
}
