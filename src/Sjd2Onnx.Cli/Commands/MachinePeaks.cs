using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Sjd2Onnx.Model;

namespace Sjd2Onnx.Cli.Commands;

/// <summary>
/// This machine's limits as ONNX Runtime's CPU kernels reach them, for <c>sjd2 bench --passes</c>
/// when no peaks are given: fp32 GFLOP/s of a large MatMul and GB/s of an elementwise Add whose
/// inputs are as large as the transformer's weights (so the bandwidth is the one of the cache level
/// they live in), each on every core, fastest of several runs. Practical peaks, a little below the
/// data-sheet ones, and the right yardstick for an engine built on the same kernels.
/// </summary>
internal static class MachinePeaks
{
    private const int M = 512, K = 2048, N = 2048; // 4.3 GFLOP per run: long enough to time, short enough to repeat

    /// <summary>Measures both peaks (a few seconds).</summary>
    public static (double Gflops, double Gbps) Measure(long weightBytes)
    {
        var settings = new PipelineOptions(); // IntraOpThreads 0: ONNX Runtime's default, every physical core
        using var options = SessionFactory.CreateOptions(ExecutionProvider.Cpu, settings, OnnxRuntimeEnvironment.NewSessionLogId());
        using var runOptions = new RunOptions();

        using var matmul = new InferenceSession(new OnnxModelWriter()
            .Input("a", TensorElementType.Float, M, K).Input("b", TensorElementType.Float, K, N)
            .Output("c", TensorElementType.Float, M, N)
            .Node("MatMul", ["a", "b"], ["c"]).Build("peak_flops"), options);
        var a = Filled(M * K);
        var b = Filled(K * N);
        var c = new float[M * N];
        double matmulSeconds = Fastest(7, () =>
        {
            using var av = OrtValue.CreateTensorValueFromMemory(a, [M, K]);
            using var bv = OrtValue.CreateTensorValueFromMemory(b, [K, N]);
            using var cv = OrtValue.CreateTensorValueFromMemory(c, [M, N]);
            matmul.Run(runOptions, ["a", "b"], [av, bv], ["c"], [cv]);
        });

        // Bandwidth: z = x + y with x and y together as large as the weights, counted as the bytes
        // read and written. ONNX Runtime splits elementwise kernels across its threads (its
        // reductions run on one thread here and reach about half of this).
        int length = (int)Math.Clamp(weightBytes / (2 * sizeof(float)), 1 << 19, 1 << 27);
        using var add = new InferenceSession(new OnnxModelWriter()
            .Input("x", TensorElementType.Float, length).Input("y", TensorElementType.Float, length)
            .Output("z", TensorElementType.Float, length)
            .Node("Add", ["x", "y"], ["z"]).Build("peak_bandwidth"), options);
        var x = Filled(length);
        var y = Filled(length);
        var z = new float[length];
        double addSeconds = Fastest(15, () =>
        {
            using var xv = OrtValue.CreateTensorValueFromMemory(x, [length]);
            using var yv = OrtValue.CreateTensorValueFromMemory(y, [length]);
            using var zv = OrtValue.CreateTensorValueFromMemory(z, [length]);
            add.Run(runOptions, ["x", "y"], [xv, yv], ["z"], [zv]);
        });
        return (2.0 * M * K * N / matmulSeconds / 1e9, 3.0 * length * sizeof(float) / addSeconds / 1e9);
    }

    private static float[] Filled(int n)
    {
        var values = new float[n];
        var rng = new Random(3);
        for (int i = 0; i < n; i++) values[i] = (float)(rng.NextDouble() - 0.5);
        return values;
    }

    private static double Fastest(int runs, Action run)
    {
        run(); // warm-up: thread pool, pages, caches
        double best = double.MaxValue;
        for (int r = 0; r < runs; r++)
        {
            long start = Stopwatch.GetTimestamp();
            run();
            best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
        return best;
    }
}
