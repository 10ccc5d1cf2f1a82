#!/usr/bin/env python3
"""Projected per-image time of each model family on H100- and RTX 4090-class GPUs (docs/benchmarks/gpu-projection.md).

A projection, not a measurement: no GPU ran this engine. A pass is taken to cost the larger of
(bytes it reads from device memory) / bandwidth and FLOPs / throughput, plus a fixed per-pass
overhead (kernel launches through ONNX Runtime, host sampling); with the KV cache kept in host
memory (the engine before device-resident decoding) the cache also crosses PCIe twice per pass.
Every constant below is an assumption stated in docs/benchmarks/gpu-projection.md. Standard library only:

    python3 tools/gpu_projection.py
"""

from dataclasses import dataclass

# Published architecture sizes (config.json of each checkpoint); head = the logit projection the
# exported graph keeps (image codes only).
@dataclass
class Family:
    name: str
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    ffn: int
    codes: int          # logit rows kept in the graph
    prompt: int         # prompt / prefix tokens before the image (typical)
    ar_passes: int      # one pass per image token (forced end-of-line tokens included)
    sjd: float          # step compression of SJD (random draft init)
    sjd_source: str
    sjd2: float | None  # step compression of SJD2 (model fine-tuned for it)
    sjd2_source: str

    @property
    def head_dim(self):
        return self.hidden // self.heads

    @property
    def params(self):
        attn = 2 * self.hidden * self.hidden + 2 * self.hidden * self.kv_heads * self.head_dim
        mlp = 3 * self.hidden * self.ffn
        return self.layers * (attn + mlp) + self.hidden * self.codes

    def kv_bytes_per_token(self, bytes_per_value):
        return 2 * self.layers * self.kv_heads * self.head_dim * bytes_per_value


FAMILIES = [
    Family("Janus-Pro-1B", 2048, 24, 16, 16, 5632, 16384, 40, 576, 2.2, "assumed", None, "no SJD2 model"),
    Family("Janus-Pro-7B", 4096, 30, 32, 32, 11008, 16384, 40, 576, 2.2, "assumed", None, "no SJD2 model"),
    Family("LlamaGen-XL (775M)", 1280, 36, 20, 20, 3584, 16384, 120, 1024, 2.2, "assumed", None, "no SJD2 model"),
    Family("Lumina-mGPT 7B", 4096, 32, 32, 32, 11008, 8192, 40, 2357, 2.22, "SJD-PAC table", 4.02, "SJD2 paper"),
    Family("Emu3 8B", 4096, 32, 32, 8, 14336, 32768, 40, 8193, 2.32, "SJD-PAC table", 5.62, "SJD2 paper"),
]


@dataclass
class Gpu:
    name: str
    bandwidth: float    # bytes/s achieved (75 % of the data sheet)
    flops: float        # fp16 tensor FLOP/s achieved (50 % of the dense data sheet figure)
    pcie: float         # host <-> device bytes/s achieved


GPUS = [
    Gpu("H100 SXM", 0.75 * 3.35e12, 0.5 * 989e12, 50e9),
    Gpu("RTX 4090", 0.75 * 1.008e12, 0.5 * 165e12, 25e9),
]

ROWS = 2                  # classifier-free guidance: conditional and unconditional row in one batch
FP16 = 2
FP32 = 4                  # the engine's host-side KV cache is float32
KERNELS_PER_LAYER = 50    # GPU kernels per decoder layer after ONNX Runtime's fusions (assumed)
LAUNCH_S = 4e-6           # ONNX Runtime CPU time to launch one kernel (assumed)
HOST_S = 0.3e-3           # sampling / verification per pass on the host (assumed, CPU-measured order)
WINDOW = {"ar": 1, "sjd": 16, "sjd2": 24}   # tokens per row per pass (SJD2 feeds up to 2W-1)


def device_seconds(f: Family, g: Gpu, tokens: int, context: float) -> float:
    """The GPU's own time for a pass: roofline of bytes read and FLOPs."""
    weights = f.params * FP16
    kv_read = ROWS * context * f.kv_bytes_per_token(FP16)
    flops = 2 * f.params * ROWS * tokens + 4 * ROWS * tokens * context * f.hidden * f.layers
    return max((weights + kv_read) / g.bandwidth, flops / g.flops)


def pass_seconds(f: Family, g: Gpu, tokens: int, context: float, host_kv: bool) -> float:
    device = device_seconds(f, g, tokens, context)
    launch = f.layers * KERNELS_PER_LAYER * LAUNCH_S
    t = max(device, launch) + HOST_S
    if host_kv:  # past rows in, present rows out, every pass
        t += 2 * ROWS * context * f.kv_bytes_per_token(FP32) / g.pcie
    return t


def image_seconds(f: Family, g: Gpu, method: str, host_kv: bool = False) -> float | None:
    compression = {"ar": 1.0, "sjd": f.sjd, "sjd2": f.sjd2}[method]
    if compression is None:
        return None
    passes = f.ar_passes / compression
    context = f.prompt + f.ar_passes / 2  # mean cached length over the image
    return passes * pass_seconds(f, g, WINDOW[method], context, host_kv)


def main():
    print("| family | params | weights fp16 | KV / token (fp16, per row) | AR passes | SJD compression | SJD2 compression |")
    print("|---|---|---|---|---|---|---|")
    for f in FAMILIES:
        sjd2 = f"{f.sjd2:.2f}× ({f.sjd2_source})" if f.sjd2 else f"— ({f.sjd2_source})"
        print(f"| {f.name} | {f.params / 1e9:.2f} B | {f.params * FP16 / 1e9:.1f} GB | "
              f"{f.kv_bytes_per_token(FP16) / 1024:.0f} KiB | {f.ar_passes} | {f.sjd:.2f}× ({f.sjd_source}) | {sjd2} |")
    print()
    for g in GPUS:
        print(f"**{g.name}** (projected seconds per image; in brackets: with the KV cache in host memory)")
        print()
        print("| family | ms / AR pass (GPU alone) | AR | SJD | SJD2 |")
        print("|---|---|---|---|---|")
        for f in FAMILIES:
            cells = []
            for m in ("ar", "sjd", "sjd2"):
                dev = image_seconds(f, g, m)
                host = image_seconds(f, g, m, host_kv=True)
                cells.append("—" if dev is None else f"{dev:.1f} s ({host:.1f} s)")
            context = f.prompt + f.ar_passes / 2
            ms = pass_seconds(f, g, 1, context, False) * 1e3
            alone = device_seconds(f, g, 1, context) * 1e3
            print(f"| {f.name} | {ms:.1f} ({alone:.1f}) | " + " | ".join(cells) + " |")
        print()


if __name__ == "__main__":
    main()
