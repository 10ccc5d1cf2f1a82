using Microsoft.ML.OnnxRuntime;
using Sjd2Onnx.Model;
using Sjd2Onnx.Tests.Support;

namespace Sjd2Onnx.Tests;

/// <summary>
/// Execution providers on a machine with the CPU package only: option validation, the fallback list,
/// the one-line diagnosis of providers that fail to load, the probe behind `sjd2 info`, and ONNX
/// Runtime's log kept off stderr unless asked for.
/// </summary>
public class ExecutionProviderTests
{
    private const string Prompt = "a red circle";

    public static TheoryData<string, PipelineOptions, string> BadOptions => new()
    {
        { "negative threads", new() { IntraOpThreads = -1 }, "threads must be between 0" },
        { "absurd threads", new() { IntraOpThreads = PipelineOptions.MaxIntraOpThreads + 1 }, "threads must be between 0" },
        { "threads past the processors", new() { IntraOpThreads = Environment.ProcessorCount + 1 }, $"threads must be at most {Environment.ProcessorCount}" },
        { "negative device", new() { DeviceId = -1 }, "device id" },
        { "unknown provider", new() { Provider = (ExecutionProvider)7 }, "unknown execution provider" },
        { "unknown fallback", new() { FallbackProviders = [(ExecutionProvider)7] }, "unknown execution provider" },
        { "null fallback list", new() { FallbackProviders = null! }, "FallbackProviders" },
        { "zero memory limit", new() { Provider = ExecutionProvider.Cuda, GpuMemoryLimitBytes = 0 }, "positive number of bytes" },
        { "memory limit without CUDA", new() { GpuMemoryLimitBytes = 1L << 30 }, "applies to the CUDA provider" },
        { "arena strategy without CUDA", new() { GpuArenaStrategy = GpuArenaStrategy.SameAsRequested }, "applies to the CUDA provider" },
        { "unknown arena strategy", new() { Provider = ExecutionProvider.Cuda, GpuArenaStrategy = (GpuArenaStrategy)9 }, "arena strategy" },
        { "CUDA options without CUDA", new() { CudaProviderOptions = new Dictionary<string, string> { ["cudnn_conv_algo_search"] = "HEURISTIC" } }, "apply to the CUDA provider" },
        { "TF32 without CUDA", new() { Tf32 = true }, "applies to the CUDA provider" },
        { "TF32 passed raw", new() { Provider = ExecutionProvider.Cuda, CudaProviderOptions = new Dictionary<string, string> { ["use_tf32"] = "1" } }, "Tf32" },
        { "typed option passed raw", new() { Provider = ExecutionProvider.Cuda, CudaProviderOptions = new Dictionary<string, string> { ["gpu_mem_limit"] = "1" } }, "GpuMemoryLimitBytes" },
        { "empty option value", new() { Provider = ExecutionProvider.Cuda, CudaProviderOptions = new Dictionary<string, string> { ["do_copy_in_default_stream"] = " " } }, "non-empty" },
        { "unknown log level", new() { OnnxRuntimeLogLevel = (OnnxRuntimeLogLevel)42 }, "log level" },
    };

    [Theory]
    [MemberData(nameof(BadOptions))]
    public void InvalidPipelineOptionsAreOneLineErrors(string what, PipelineOptions options, string expect)
    {
        var e = Assert.Throws<Sjd2Exception>(() => { using var p = Sjd2Pipeline.Load(TestPaths.Model("tiny"), options); });
        AssertOneLine(e.Message, expect, what);
    }

    [Fact]
    public void SessionOptionsCarryThreadsAndLogId()
    {
        using var options = SessionFactory.CreateOptions(ExecutionProvider.Cpu, new PipelineOptions { IntraOpThreads = 3 }, "sjd2-test");
        Assert.Equal(3, options.IntraOpNumThreads);
        Assert.Equal("sjd2-test", options.LogId);
        Assert.Equal(OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING, options.LogSeverityLevel);
    }

    [Fact]
    public void CudaProviderOptionsMapTheTypedSettings()
    {
        var values = SessionFactory.CudaOptions(new PipelineOptions
        {
            Provider = ExecutionProvider.Cuda,
            DeviceId = 1,
            GpuMemoryLimitBytes = 3L << 30,
            GpuArenaStrategy = GpuArenaStrategy.SameAsRequested,
            CudaProviderOptions = new Dictionary<string, string> { ["cudnn_conv_algo_search"] = "HEURISTIC" },
        });
        Assert.Equal("1", values["device_id"]);
        Assert.Equal("3221225472", values["gpu_mem_limit"]);
        Assert.Equal("kSameAsRequested", values["arena_extend_strategy"]);
        Assert.Equal("HEURISTIC", values["cudnn_conv_algo_search"]);
        Assert.Equal("0", values["use_tf32"]);
        Assert.Equal(5, values.Count);
        var defaults = SessionFactory.CudaOptions(new PipelineOptions { Provider = ExecutionProvider.Cuda });
        Assert.DoesNotContain("gpu_mem_limit", defaults.Keys);
        Assert.Equal("0", defaults["use_tf32"]);   // ONNX Runtime's default is on; parity needs it off
        Assert.Equal("1", SessionFactory.CudaOptions(new PipelineOptions { Provider = ExecutionProvider.Cuda, Tf32 = true })["use_tf32"]);
    }

    [Fact]
    public async Task IntraOpThreadsDoNotChangeTheCodes()
    {
        using var auto = Sjd2Pipeline.Load(TestPaths.Model("tiny"));
        using var one = Sjd2Pipeline.Load(TestPaths.Model("tiny"), new PipelineOptions { IntraOpThreads = 1 });
        var a = await auto.GenerateAsync(Prompt, new() { Seed = 5, Decoding = new SjdOptions() });
        var b = await one.GenerateAsync(Prompt, new() { Seed = 5, Decoding = new SjdOptions() });
        Assert.Equal(a.Codes, b.Codes);
    }

    [Fact]
    public async Task FallbackEndsOnTheFirstProviderThatLoadsAndSaysWhy()
    {
        using var plain = Sjd2Pipeline.Load(TestPaths.Model("tiny"));
        using var fallback = Sjd2Pipeline.Load(TestPaths.Model("tiny"), new PipelineOptions
        {
            Provider = ExecutionProvider.Cuda,
            FallbackProviders = [ExecutionProvider.DirectML, ExecutionProvider.Cpu],
        });
        Assert.Equal(ExecutionProvider.Cpu, plain.Provider);
        Assert.Empty(plain.ProviderFallbacks);
        Assert.Equal(ExecutionProvider.Cpu, fallback.Provider);
        Assert.Equal(2, fallback.ProviderFallbacks.Count);
        AssertOneLine(fallback.ProviderFallbacks[0], "CUDA provider unavailable", "CUDA skipped");
        AssertOneLine(fallback.ProviderFallbacks[0], "Microsoft.ML.OnnxRuntime.Gpu", "CUDA skipped");
        AssertOneLine(fallback.ProviderFallbacks[1], "DirectML provider unavailable", "DirectML skipped");
        var a = await plain.GenerateAsync(Prompt, new() { Seed = 9 });
        var b = await fallback.GenerateAsync(Prompt, new() { Seed = 9 });
        Assert.Equal(a.Codes, b.Codes);
    }

    [Fact]
    public void NoProviderLoadingIsOneLineNamingEach()
    {
        var e = Assert.Throws<Sjd2Exception>(() =>
        {
            using var p = Sjd2Pipeline.Load(TestPaths.Model("tiny"), new PipelineOptions { Provider = ExecutionProvider.Cuda, FallbackProviders = [ExecutionProvider.DirectML] });
        });
        AssertOneLine(e.Message, "no execution provider could be loaded", "two providers");
        AssertOneLine(e.Message, "Microsoft.ML.OnnxRuntime.Gpu", "two providers");
        AssertOneLine(e.Message, "Microsoft.ML.OnnxRuntime.DirectML", "two providers");
    }

    [Fact]
    public void BrokenGraphIsNotMistakenForAMissingProvider()
    {
        using var temp = new TempDir();
        string dir = temp.CopyModel("tiny");
        File.WriteAllBytes(Path.Combine(dir, "vq_decoder.onnx"), [1, 2, 3, 4, 5]);
        var e = Assert.Throws<Sjd2Exception>(() =>
        {
            using var p = Sjd2Pipeline.Load(dir, new PipelineOptions { Provider = ExecutionProvider.Cuda, FallbackProviders = [ExecutionProvider.Cpu] });
        });
        AssertOneLine(e.Message, "vq_decoder", "broken graph");
        Assert.DoesNotContain("provider unavailable", e.Message);
    }

    [Fact]
    public void ProbeRunsTheCpuProviderAndExplainsTheMissingOnes()
    {
        var cpu = SessionFactory.Probe(ExecutionProvider.Cpu, new PipelineOptions());
        Assert.True(cpu.Loads, cpu.Reason);
        var cuda = SessionFactory.Probe(ExecutionProvider.Cuda, new PipelineOptions());
        Assert.False(cuda.Loads);
        AssertOneLine(cuda.Reason!, "Microsoft.ML.OnnxRuntime.Gpu", "CUDA probe");
        Assert.Contains("CPUExecutionProvider", SessionFactory.AvailableProviders());
    }

    // Messages seen on a machine with Microsoft.ML.OnnxRuntime.Gpu but no CUDA libraries (the first is
    // verbatim from this repository's build machine), and the documented CUDA error texts.
    public static TheoryData<string, int, string[]> ProviderFailures => new()
    {
        { "[ErrorCode:Fail] /onnxruntime_src/onnxruntime/core/session/provider_bridge_ort.cc:2043 onnxruntime::Provider& onnxruntime::ProviderLibrary::Get() [ONNXRuntimeError] : 1 : FAIL : Failed to load library /app/runtimes/linux-x64/native/libonnxruntime_providers_cuda.so with error: libcublasLt.so.13: cannot open shared object file: No such file or directory\n",
          0, ["libcublasLt.so.13", "CUDA 13 runtime", "cuBLAS", "cuDNN 9", "LD_LIBRARY_PATH"] },
        { "Failed to load library libonnxruntime_providers_cuda.so with error: libcudnn.so.9: cannot open shared object file: No such file or directory",
          0, ["libcudnn.so.9", "cuDNN 9"] },
        { "Failed to load library libonnxruntime_providers_cuda.so with error: libcudart.so.13: cannot open shared object file: No such file or directory",
          0, ["libcudart.so.13", "CUDA runtime"] },
        { "Failed to load library libonnxruntime_providers_cuda.so with error: libcuda.so.1: cannot open shared object file: No such file or directory",
          0, ["libcuda.so.1", "NVIDIA driver"] },
        { "Failed to load library /app/libonnxruntime_providers_cuda.so with error: libonnxruntime_providers_shared.so: cannot open shared object file: No such file or directory",
          0, ["libonnxruntime_providers_shared.so", "Microsoft.ML.OnnxRuntime.Gpu"] },
        { "LoadLibrary failed with error 126 \"\" when trying to load \"C:\\app\\onnxruntime_providers_cuda.dll\"",
          0, ["onnxruntime_providers_cuda.dll", "CUDA 13", "cuDNN 9", "PATH"] },
        { "CUDA failure 100: no CUDA-capable device is detected ; GPU=0 ; hostname=x ; expr=cudaSetDevice(info_.device_id);",
          0, ["no CUDA GPU", "nvidia-smi"] },
        { "CUDA failure 101: invalid device ordinal ; GPU=3", 3, ["no CUDA GPU 3"] },
        { "CUDA failure 35: CUDA driver version is insufficient for CUDA runtime version", 0, ["driver", "CUDA 13"] },
        { "CUDA execution provider is not enabled in this build.", 0, ["Microsoft.ML.OnnxRuntime.Gpu", "OnnxRuntimeFlavor=Cuda"] },
        { "something unforeseen happened\nsecond line", 0, ["something unforeseen happened"] },
    };

    [Theory]
    [MemberData(nameof(ProviderFailures))]
    public void CudaLoadFailuresBecomeOneLineNamingTheMissingPiece(string message, int deviceId, string[] expect)
    {
        string line = ProviderDiagnosis.Describe(ExecutionProvider.Cuda, new InvalidOperationException(message), [], deviceId);
        Assert.StartsWith("CUDA provider unavailable: ", line);
        foreach (var e in expect) AssertOneLine(line, e, message);
        Assert.DoesNotContain("second line", line);
    }

    [Fact]
    public void LoggedCauseIsUsedWhenTheExceptionIsGeneric()
    {
        string line = ProviderDiagnosis.Describe(ExecutionProvider.Cuda, new InvalidOperationException("[ErrorCode:Fail] provider failed"),
            ["Failed to load library libonnxruntime_providers_cuda.so with error: libcublas.so.13: cannot open shared object file: No such file or directory"], 0);
        AssertOneLine(line, "libcublas.so.13", "cause from the log");
        Assert.True(ProviderDiagnosis.IsProviderFailure(ExecutionProvider.Cuda, new InvalidOperationException("x"), ["libcudnn.so.9: cannot open shared object file"]));
    }

    [Theory]
    [InlineData("Load model from /m/transformer.onnx failed:Protobuf parsing failed.")]
    [InlineData("[ErrorCode:InvalidGraph] Load model from x failed: This is an invalid model. In Node, (\"\", Add, \"\", -1) : () -> (\"y\") , Error Node () has input size 0 not in range [min=2, max=2].")]
    public void GraphErrorsAreNotProviderFailures(string message)
    {
        Assert.False(ProviderDiagnosis.IsProviderFailure(ExecutionProvider.Cuda, new InvalidOperationException(message), []));
        Assert.False(ProviderDiagnosis.IsProviderFailure(ExecutionProvider.Cpu, new EntryPointNotFoundException(message), []));
    }

    [Theory]
    [InlineData("dll")]
    [InlineData("type-init")]
    [InlineData("entry-point")]
    public void MissingNativeLibraryMapsToOneLineNamingThePackages(string kind)
    {
        Exception raw = kind switch
        {
            "dll" => new DllNotFoundException("Unable to load shared library 'onnxruntime' or one of its dependencies.\nmore"),
            "type-init" => new TypeInitializationException("Microsoft.ML.OnnxRuntime.NativeMethods", new DllNotFoundException("onnxruntime")),
            _ => new EntryPointNotFoundException("OrtGetApiBase"),
        };
        Assert.True(OnnxRuntimeEnvironment.NativeLibraryProblem(raw));
        var e = OnnxRuntimeEnvironment.NativeLibraryMissing(raw);
        AssertOneLine(e.Message, "Microsoft.ML.OnnxRuntime (CPU)", kind);
        AssertOneLine(e.Message, "Microsoft.ML.OnnxRuntime.Gpu", kind);
        AssertOneLine(e.Message, OnnxRuntimeEnvironment.ManagedVersion(), kind);
        Assert.False(OnnxRuntimeEnvironment.NativeLibraryProblem(new TypeInitializationException("Some.Other.Type", new InvalidOperationException())));
    }

    [Fact]
    public void LogLinesGoToTheirOwnPipelineWithoutColourCodes()
    {
        var first = new List<string>();
        var second = new List<string>();
        using var a = Sjd2Pipeline.Load(TestPaths.Model("tiny"), new PipelineOptions { OnnxRuntimeLog = Locked(first), OnnxRuntimeLogLevel = OnnxRuntimeLogLevel.Info });
        using var b = Sjd2Pipeline.Load(TestPaths.Model("tiny"), new PipelineOptions { OnnxRuntimeLog = Locked(second), OnnxRuntimeLogLevel = OnnxRuntimeLogLevel.Info });
        Assert.True(OnnxRuntimeEnvironment.RoutesLog, "the ONNX Runtime environment was created without the log callback");
        string[] all;
        lock (first) lock (second) all = [.. first, .. second];
        Assert.NotEmpty(first);
        Assert.NotEmpty(second);
        Assert.All(all, l => Assert.Matches("^onnxruntime [VIWEF]: ", l));
        Assert.All(all, l => Assert.DoesNotContain('\u001b', l));
        // Each session announces its log id in its "Session Options" line: each pipeline sees its own only.
        string Ids(List<string> lines) { lock (lines) return string.Join(",", lines.Select(SessionLogId).OfType<string>().Distinct()); }
        string idsA = Ids(first), idsB = Ids(second);
        Assert.DoesNotContain(",", idsA);
        Assert.DoesNotContain(",", idsB);
        Assert.NotEqual("", idsA);
        Assert.NotEqual(idsA, idsB);
    }

    [Fact]
    public void InfoListsWhichProvidersLoad()
    {
        var r = Sjd2Cli.Run("info", "--model", TestPaths.Model("tiny"));
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Matches(@"(?m)^providers\s+cpu\s+loads and runs$", r.Stdout);
        Assert.Matches(@"(?m)^\s+cuda\s+unavailable: .*Microsoft\.ML\.OnnxRuntime\.Gpu", r.Stdout);
        Assert.Matches(@"(?m)^\s+dml\s+unavailable: .*Microsoft\.ML\.OnnxRuntime\.DirectML", r.Stdout);
        Assert.Contains("running on   cpu", r.Stdout);
        Assert.Equal("", r.Stderr);
    }

    [Fact]
    public void CliFallbackSaysWhereItEndedUp()
    {
        using var temp = new TempDir();
        string png = temp.File("a.png");
        var r = Sjd2Cli.Run("generate", Prompt, "--model", TestPaths.Model("tiny"), "--ep", "cuda,cpu", "--out", png, "--quiet");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.True(File.Exists(png));
        var lines = r.StderrLines;
        Assert.Equal(2, lines.Length);
        Assert.StartsWith("sjd2: CUDA provider unavailable: ", lines[0]);
        Assert.Equal("sjd2: running on cpu.", lines[1]);
    }

    [Theory]
    [InlineData("cuda,,cpu", "empty entry")]
    [InlineData("cpu,cpu", "twice")]
    [InlineData("cuda,tpu", "unknown execution provider 'tpu'")]
    public void BadProviderListsAreUsageErrors(string ep, string expect)
    {
        var r = Sjd2Cli.Run("info", "--model", TestPaths.Model("tiny"), "--ep", ep);
        Assert.Equal(2, r.ExitCode);
        var lines = r.StderrLines;
        Assert.True(lines.Length == 1, r.ToString());
        AssertOneLine(lines[0], expect, ep);
    }

    [Fact]
    public void VerbosePassesOnnxRuntimeLogToStderrAndOnlyThen()
    {
        var quiet = Sjd2Cli.Run("info", "--model", TestPaths.Model("tiny"));
        var verbose = Sjd2Cli.Run("info", "--model", TestPaths.Model("tiny"), "--verbose");
        Assert.True(quiet.ExitCode == 0 && verbose.ExitCode == 0, $"{quiet}\n{verbose}");
        Assert.Equal("", quiet.Stderr);
        Assert.Contains(verbose.StderrLines, l => l.StartsWith("onnxruntime I: ", StringComparison.Ordinal));
        Assert.DoesNotContain('\u001b', verbose.Stderr);
    }

    [Fact]
    public void MissingNativeLibraryIsOneLineNotATypeInitializationException()
    {
        // A copy of the CLI without runtimes/ (where libonnxruntime lives): the library user's situation
        // when no native ONNX Runtime package is referenced.
        using var temp = new TempDir();
        string bin = temp.File("bin");
        Directory.CreateDirectory(bin);
        foreach (var f in Directory.GetFiles(AppContext.BaseDirectory))
        {
            string name = Path.GetFileName(f);
            bool native = name.StartsWith("libonnxruntime", StringComparison.Ordinal) || name.StartsWith("onnxruntime", StringComparison.OrdinalIgnoreCase);
            if (!native) File.Copy(f, Path.Combine(bin, name));
        }
        var r = Sjd2Cli.RunDll(Path.Combine(bin, "sjd2.dll"), ["info", "--model", TestPaths.Model("tiny")]);
        Assert.True(r.ExitCode == 1, r.ToString()); // a run-time failure, not a usage error
        var lines = r.StderrLines;
        Assert.True(lines.Length == 1, r.ToString());
        Assert.StartsWith("sjd2: error: the ONNX Runtime native library (onnxruntime) cannot be loaded", lines[0]);
        Assert.Contains("Microsoft.ML.OnnxRuntime.Gpu", lines[0]);
        Assert.DoesNotContain("Exception", r.Stderr);
    }

    [Fact]
    public void OnnxRuntimeWarningsStayOffStderrUnlessVerbose()
    {
        // A graph with an unused initializer makes ONNX Runtime warn while loading it: before the log
        // callback this warning reached stderr as a raw, colour-coded line.
        using var temp = new TempDir();
        string dir = temp.CopyModel("tiny");
        string vq = Path.Combine(dir, "vq_decoder.onnx");
        File.WriteAllBytes(vq, OnnxFileEdit.AddUnusedInitializer(File.ReadAllBytes(vq), "sjd2_unused_weight"));

        var quiet = Sjd2Cli.Run("info", "--model", dir);
        Assert.True(quiet.ExitCode == 0, quiet.ToString());
        Assert.Equal("", quiet.Stderr);

        var verbose = Sjd2Cli.Run("info", "--model", dir, "--verbose");
        Assert.True(verbose.ExitCode == 0, verbose.ToString());
        Assert.Contains(verbose.StderrLines, l => l.StartsWith("onnxruntime W: ", StringComparison.Ordinal) && l.Contains("sjd2_unused_weight", StringComparison.Ordinal));
        Assert.DoesNotContain('\u001b', verbose.Stderr);

        var lines = new List<string>();
        using (Sjd2Pipeline.Load(dir, new PipelineOptions { OnnxRuntimeLog = Locked(lines) }))
        {
            lock (lines) Assert.Contains(lines, l => l.StartsWith("onnxruntime W: ", StringComparison.Ordinal) && l.Contains("sjd2_unused_weight", StringComparison.Ordinal));
        }
    }

    private static Action<string> Locked(List<string> lines) => l => { lock (lines) lines.Add(l); };

    private static string? SessionLogId(string line)
    {
        var m = System.Text.RegularExpressions.Regex.Match(line, @"session_logid:(\S+)");
        return m.Success ? m.Groups[1].Value : null;
    }

    private static void AssertOneLine(string message, string expect, string what)
    {
        Assert.DoesNotContain('\n', message);
        Assert.DoesNotContain('\r', message);
        Assert.True(message.Contains(expect, StringComparison.OrdinalIgnoreCase), $"{what}: message should mention '{expect}': {message}");
    }
}
