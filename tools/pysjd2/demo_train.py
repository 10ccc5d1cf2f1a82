"""Training of the default model (see demo.py for the command line and docs/default-model.md).

One loop serves the CPU and a GPU:

* batches (left-padded prompt ids, rendered images, SJD2 noise levels) are drawn by worker
  processes when ``--workers`` > 0, in the main process otherwise;
* images are VQ-encoded on the training device (nearest k-means centroid of each 4x4 patch);
* on CUDA the forward runs under bf16 autocast, with the fused attention kernel
  (``Attention`` picks it when training on a GPU); on a CPU with bf16 matrix instructions (AMX or
  AVX-512 BF16) it runs under CPU bf16 autocast: 1.3 s a step of 24 against 5.9 s in float32 on a
  2-core AMX Xeon, which makes a CPU fine-tune of a few thousand steps an hour's work;
* the learning rate follows a cosine cycle over a step count or a time budget, whichever is
  further along; ``--init-weights`` starts a new cycle from saved weights (fresh optimizer),
  ``--resume`` continues the current cycle from the full checkpoint.
"""
from __future__ import annotations

import collections
import contextlib
import inspect
import json
import math
import multiprocessing
import os
import time
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from . import noise_schedule, shapes, vq
from .transformer import Sjd2Transformer, TransformerConfig

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
WORK = os.path.join(REPO, "train", "demo")

MAX_PROMPT_TOKENS = 24
CODEBOOK_SIZE = 512
GRID = 16
NUM_IMAGE_TOKENS = GRID * GRID

MODEL = dict(hidden_size=192, num_layers=6, num_heads=6, num_kv_heads=2, head_dim=32,
             ffn_size=512, max_sequence_length=288, rope_theta=10000.0, noise_conditioning=True)

SJD2 = dict(schedule="karras", steps=20, sigma_min=0.02, sigma_max=1.0, rho=7.0)

TRAIN = dict(batch_size=24, lr=2e-3, min_lr_ratio=0.05, warmup=50, weight_decay=0.05,
             betas=(0.9, 0.95), grad_clip=1.0, caption_dropout=0.1, noise_row_prob=0.5,
             seg_min=16, seg_max=96, slope_min=0.3, slope_max=2.0, window_share=0.5,
             window_min=8, window_max=96, stats_every=25,
             checkpoint_seconds=180)

# A GPU takes larger batches; the prompt is padded to a fixed width there so every batch has the
# same shape (288 positions with the image), which left padding makes mathematically neutral.
CUDA_TRAIN = dict(batch_size=256, lr=1.5e-3, warmup=300, checkpoint_seconds=120)
CUDA_TEXT_WIDTH = 32


def karras_sigmas(steps=20, sigma_min=0.02, sigma_max=1.0, rho=7.0) -> np.ndarray:
    return noise_schedule.karras_grid(steps, sigma_min, sigma_max, rho)


SIGMAS = karras_sigmas(**{k: v for k, v in SJD2.items() if k != "schedule"})
TOKENIZER = shapes.WordTokenizer()


def cpu_has_bf16_matmul() -> bool:
    """Whether this CPU multiplies bf16 matrices natively (Linux flags amx_bf16 / avx512_bf16).
    Without them CPU bf16 autocast is emulated and slower than float32."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def log_line(path: str, text: str) -> None:
    print(text, flush=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(text + "\n")


# ------------------------------------------------------------------------------------------
# data
# ------------------------------------------------------------------------------------------
def settings_for(args, train: Dict, cuda_train: Dict, cuda: bool) -> Dict:
    """A run's training settings: the world's, its GPU overrides on a GPU, then --batch and --lr."""
    t = dict(train, **(cuda_train if cuda else {}))
    if args.batch:
        t["batch_size"] = args.batch
    if args.lr:
        t["lr"] = args.lr
    return t


def resolve_run_args(args) -> None:
    """Fills what a training command leaves open: the step budget, the device, torch's threads."""
    args.steps_given = args.steps is not None
    if args.steps is None:
        args.steps = 100000 if args.minutes else 3000
    if args.device is None:
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.set_num_threads(args.threads or max(1, os.cpu_count() or 1))


def noise_segments(rng: np.random.Generator, batch: int, sigmas: np.ndarray, t: Dict) -> np.ndarray:
    """noise levels [B,256] for the image inputs (0 = clean). A noisy row holds either what the
    window schedule feeds (``window_share`` of them: a ramp from sigma_min after clean context to
    sigma_max at the window's end) or what the per-pass schedule feeds (a segment whose level rises
    by ``slope`` grid steps per slot from a random start)."""
    steps = len(sigmas)
    lv = np.zeros((batch, NUM_IMAGE_TOKENS), dtype=np.float32)
    for b in range(batch):
        if rng.random() >= t["noise_row_prob"]:
            continue
        if t.get("window_share", 0.0) > 0 and rng.random() < t["window_share"]:
            lv[b] = noise_schedule.window_segment(rng, NUM_IMAGE_TOKENS, SJD2["sigma_min"], SJD2["sigma_max"], SJD2["rho"],
                                                  t["window_min"], t["window_max"])
            continue
        length = int(rng.integers(t["seg_min"], t["seg_max"] + 1))
        start = int(rng.integers(0, NUM_IMAGE_TOKENS - length + 1))
        slope = float(rng.uniform(t["slope_min"], t["slope_max"]))
        offset = float(rng.uniform(0.0, steps * 0.75))
        depth = np.floor(offset + slope * np.arange(length)).astype(np.int64)   # grid steps from the clean end
        idx = np.clip(steps - 1 - depth, 0, steps - 1)                         # 0 = sigma_max = pure noise
        lv[b, start:start + length] = sigmas[idx]
    return lv


def left_pad(rows: List[List[int]], width: Optional[int] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Token rows right-aligned in [PAD...] arrays of ``width`` (or the longest row), with the
    attention mask (1 on real tokens), as the engine pads its CFG rows."""
    width = width or max(len(r) for r in rows)
    ids = np.full((len(rows), width), shapes.PAD_ID, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for i, r in enumerate(rows):
        ids[i, width - len(r):] = r
        mask[i, width - len(r):] = 1
    return ids, mask


def draw_batch(seed: int, batch: int, t: Dict, text_width: Optional[int]) -> Dict[str, np.ndarray]:
    """One training batch from its own seed: prompt ids left-padded to ``text_width`` (or the
    longest row), attention mask, rendered uint8 images and noise levels."""
    rng = np.random.default_rng(seed)
    images, caps, _ = shapes.sample_batch(rng, batch, "train")
    prompts = []
    for c in caps:
        ids = [] if rng.random() < t["caption_dropout"] else TOKENIZER.encode(c)
        assert len(ids) <= MAX_PROMPT_TOKENS
        prompts.append([shapes.BOS_ID] + ids + [shapes.BOI_ID])
    text, mask = left_pad(prompts, text_width)
    return {"text": text, "mask": mask, "images": images, "levels": noise_segments(rng, batch, SIGMAS, t)}


def _draw_batch_job(job) -> Dict[str, np.ndarray]:
    draw, args = job
    return draw(*args)


def save_checkpoint(work: str, model, opt, state: Dict, mean: torch.Tensor, std: torch.Tensor) -> None:
    """Writes weights.pt (model, config, training state) and ckpt.pt (the same with the optimizer)
    into `work`, each through a temporary file, so an interrupted save leaves the previous one."""
    state["emb_mean"], state["emb_std"] = mean.cpu(), std.cpu()
    weights = {"transformer_config": model.config.to_dict(),
               "model": {k: v.detach().cpu() for k, v in model.state_dict().items()}, "state": state}
    for name, obj in (("weights.pt", weights), ("ckpt.pt", dict(weights, opt=opt.state_dict()))):
        tmp = os.path.join(work, name + ".tmp")
        torch.save(obj, tmp)
        os.replace(tmp, os.path.join(work, name))


class BatchStream:
    """Batches for consecutive steps, drawn by `draw(seed, batch, t, text_width)` (a module-level
    function, so that worker processes can run it); with workers, a few are drawn ahead."""

    def __init__(self, first_seed: int, batch: int, t: Dict, text_width: Optional[int], workers: int, draw=None):
        self.draw = draw or draw_batch
        self.args = (batch, t, text_width)
        self.next_seed = first_seed
        self.pool = multiprocessing.get_context("fork").Pool(workers) if workers > 0 else None
        self.ahead: collections.deque = collections.deque()
        self.depth = 2 * workers

    def next(self) -> Dict[str, np.ndarray]:
        if self.pool is None:
            self.next_seed += 1
            return self.draw(self.next_seed - 1, *self.args)
        while len(self.ahead) < self.depth:
            self.ahead.append(self.pool.apply_async(_draw_batch_job, ((self.draw, (self.next_seed,) + self.args),)))
            self.next_seed += 1
        return self.ahead.popleft().get()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.terminate()


def encode_images(images: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """uint8 [N,64,64,3] -> codes [N,256] on the codebook's device (same rule as vq.encode)."""
    n = images.shape[0]
    x = images.to(codebook.device, torch.float32) / 127.5 - 1.0
    p = x.view(n, GRID, vq.PATCH, GRID, vq.PATCH, 3).permute(0, 1, 3, 2, 4, 5).reshape(-1, codebook.shape[1])
    d = (p * p).sum(1, keepdim=True) - 2.0 * p @ codebook.T + (codebook * codebook).sum(1).unsqueeze(0)
    return d.argmin(1).view(n, NUM_IMAGE_TOKENS)


# ------------------------------------------------------------------------------------------
# model and loss
# ------------------------------------------------------------------------------------------
def embedding_stats(model: Sjd2Transformer) -> Tuple[torch.Tensor, torch.Tensor]:
    w = model.image_embed.weight.detach().float()
    return w.mean(0), w.std(0).clamp(min=1e-4)


def forward_batch(model, text, tmask, codes, levels, mean, std, gen: torch.Generator):
    """Per-token cross-entropy [B,256] of the image-code targets. Image inputs inside a noise
    segment are replaced by noised embeddings ñ = sqrt(1-σ²)·n + σ·ε in normalised space."""
    b = text.shape[0]
    te = model.text_embed(text)
    ie = model.image_embed(codes)
    n = (ie - mean) / std
    eps = torch.randn(n.shape, generator=gen, device=n.device)
    s = levels.unsqueeze(-1)
    noisy = (torch.sqrt(1.0 - s * s) * n + s * eps) * std + mean
    ie = torch.where(s > 0, noisy, ie)
    x = torch.cat([te, ie], 1)
    mask = torch.cat([tmask, torch.ones(b, NUM_IMAGE_TOKENS, dtype=torch.long, device=tmask.device)], 1)
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    nl = torch.cat([torch.zeros(b, text.shape[1], device=levels.device), levels], 1)
    logits, _ = model(x, mask, pos, None, nl)
    # the logits row of input j predicts input j+1: BOI predicts code 0, code 254 predicts code 255
    pred = logits[:, text.shape[1] - 1:-1]                    # [B,256,K]
    ce = F.cross_entropy(pred.reshape(-1, pred.shape[-1]).float(), codes.reshape(-1), reduction="none")
    return ce.view(b, NUM_IMAGE_TOKENS)


def _mean_of(parts) -> Optional[float]:
    """Mean from device-side [sum, count] pairs (one host read per log line)."""
    total, count = (float(v) for v in torch.stack(parts).sum(0))
    return round(total / count, 4) if count > 0 else None


def new_model(vocab_size: int, config: Optional[Dict] = None) -> Sjd2Transformer:
    if config is not None:
        return Sjd2Transformer(TransformerConfig.from_dict(config))
    return Sjd2Transformer(TransformerConfig(text_vocab_size=vocab_size, codebook_size=CODEBOOK_SIZE, **MODEL))


def get_vq(log_path: str, device_minutes: float = 3.0):
    """(codebook, decoder, stats): from train/demo/vq.pt, else from the committed
    onnx/torch_state.pt (so a fresh machine trains on the shipped tokenizer), else built."""
    path = os.path.join(WORK, "vq.pt")
    if os.path.exists(path):
        d = torch.load(path)
        dec = vq.VqDecoder(CODEBOOK_SIZE)
        dec.load_state_dict(d["decoder"])
        return d["codebook"].numpy(), dec.eval(), d["stats"]
    shipped = os.path.join(REPO, "onnx", "torch_state.pt")
    if os.path.exists(shipped):
        d = torch.load(shipped, map_location="cpu")
        dec = vq.VqDecoder(d["codebook"].shape[0])
        dec.load_state_dict(d["vq_decoder"])
        stats = d["meta"].get("vq", {})
        return d["codebook"].float().numpy(), dec.eval(), stats
    cb, dec, stats = vq.build_vq(CODEBOOK_SIZE, 6000, 25, device_minutes, 0,
                                 lambda s: log_line(log_path, s))
    os.makedirs(WORK, exist_ok=True)
    torch.save({"codebook": torch.from_numpy(cb), "decoder": dec.state_dict(), "stats": stats}, path)
    return cb, dec.eval(), stats


def check_fused_attention(model: Sjd2Transformer, device: torch.device, log) -> None:
    """On a GPU, training uses the fused attention kernel and export the explicit one: compare
    the two on one float32 batch before training on them."""
    b = draw_batch(7, 8, TRAIN, CUDA_TEXT_WIDTH)
    args = [torch.from_numpy(b[k]).to(device) for k in ("text", "mask")]
    codes = torch.randint(0, CODEBOOK_SIZE, (8, NUM_IMAGE_TOKENS), device=device)
    levels = torch.from_numpy(b["levels"]).to(device)
    mean, std = embedding_stats(model)
    out = []
    for training in (True, False):
        model.train(training)
        with torch.no_grad():
            out.append(forward_batch(model, *args, codes, levels, mean, std,
                                     torch.Generator(device=device).manual_seed(0)))
    model.train()
    diff = float((out[0] - out[1]).abs().max())
    log("fused vs explicit attention: max |ce difference| %.2e" % diff)
    if diff > 1e-3:
        raise RuntimeError("the fused attention path disagrees with the exported one")


# ------------------------------------------------------------------------------------------
# schedule
# ------------------------------------------------------------------------------------------
def progress(state: Dict) -> float:
    """Progress of the current cosine cycle in [0,1]: by steps or by training seconds (the time
    budget), the larger of the two, so a slow machine still gets a complete schedule."""
    p = (state["step"] - state.get("cycle_step", 0)) / max(1, state["total_steps"])
    if state.get("budget_seconds"):
        p = max(p, (state["seconds"] - state.get("cycle_seconds", 0.0)) / state["budget_seconds"])
    return min(1.0, p)


def lr_at(state: Dict, t: Dict) -> float:
    k = state["step"] - state.get("cycle_step", 0)
    if k < t["warmup"]:
        return t["lr"] * (k + 1) / t["warmup"]
    p = progress(state)
    return t["lr"] * (t["min_lr_ratio"] + (1 - t["min_lr_ratio"]) * 0.5 * (1 + math.cos(math.pi * p)))


# ------------------------------------------------------------------------------------------
# loop
# ------------------------------------------------------------------------------------------
def weights_from(saved: Dict) -> Dict:
    """A training weights dict (transformer_config, model, state) from a weights.pt / ckpt.pt, or
    from a shipped torch_state.pt (so a fine-tune can start from onnx/torch_state.pt): the
    optimiser state is dropped either way, as a new cosine cycle starts."""
    if "model" in saved:
        saved.pop("opt", None)
        return saved
    meta = saved["meta"]
    cycles = meta.get("train_by_cycle") or [dict(TRAIN)]
    state = {"step": meta["steps"], "seconds": float(meta["train_seconds"]),
             "history": list(meta.get("history", [])), "train_by_cycle": list(cycles),
             "cycle": len(cycles) - 1, "emb_mean": saved["embedding_mean"], "emb_std": saved["embedding_std"]}
    return {"transformer_config": saved["transformer_config"], "model": saved["transformer"], "state": state}


def train(args) -> Tuple[Sjd2Transformer, Dict]:
    work = args.work or WORK
    os.makedirs(work, exist_ok=True)
    log_path = os.path.join(work, "train_log.txt")
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    t = settings_for(args, TRAIN, CUDA_TRAIN, cuda)
    if getattr(args, "window_share", None) is not None:
        t["window_share"] = args.window_share
    codebook_np, _, _ = get_vq(log_path)
    ckpt_path = os.path.join(work, "ckpt.pt")
    ck = None
    if args.resume and os.path.exists(ckpt_path):
        ck = torch.load(ckpt_path, map_location="cpu")
    elif args.init_weights:
        ck = weights_from(torch.load(args.init_weights, map_location="cpu"))
    model = new_model(len(TOKENIZER.tokens), ck.get("transformer_config") if ck else None).to(device)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "embed." not in n.replace("_embed.", "embed.")]
    no_decay = [p for n, p in model.named_parameters() if not any(p is q for q in decay)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": t["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}], lr=t["lr"], betas=t["betas"],
                            **({"fused": True} if cuda and "fused" in inspect.signature(torch.optim.AdamW).parameters else {}))
    state = {"step": 0, "seconds": 0.0, "history": [], "total_steps": args.steps,
             "budget_seconds": args.minutes * 60 if args.minutes else None}
    if ck is not None:
        model.load_state_dict(ck["model"])
        state = ck["state"]
        if "opt" in ck:
            opt.load_state_dict(ck["opt"])
        else:   # new cycle from saved weights: fresh optimizer, warm-up and cosine again
            state["cycle"] = state.get("cycle", 0) + 1
            state["cycle_step"], state["cycle_seconds"] = state["step"], state["seconds"]
            state["total_steps"], state["budget_seconds"] = args.steps, None
        if args.steps_given or "opt" not in ck:
            state["total_steps"] = args.steps
        if args.minutes:
            state["budget_seconds"] = args.minutes * 60
        log_line(log_path, "continuing at step %d (%.0fs trained), cycle %d"
                 % (state["step"], state["seconds"], state.get("cycle", 0)))
    state.setdefault("train_by_cycle", []).append({k: v for k, v in t.items()})
    state["model_config"] = model.config.to_dict()
    torch.manual_seed(2000 + state["step"])
    gen = torch.Generator(device=device).manual_seed(2000 + state["step"])
    codebook = torch.from_numpy(codebook_np).to(device)
    mean, std = embedding_stats(model)
    if "emb_mean" in state:
        mean, std = state["emb_mean"].to(device), state["emb_std"].to(device)
    if cuda:
        check_fused_attention(model, device, lambda m: log_line(log_path, m))
    bf16 = getattr(args, "bf16", "auto")   # the tests call train() with argument sets without it
    cpu_bf16 = not cuda and (bf16 == "on" or (bf16 == "auto" and cpu_has_bf16_matmul()))
    if cpu_bf16:
        log_line(log_path, "CPU bf16 autocast (native bf16 matrix instructions)")
    workers = args.workers if args.workers is not None else (min(12, max(0, (os.cpu_count() or 1) - 2)) if cuda else 0)
    stream = BatchStream(1000003 * (state.get("cycle", 0) + 1) + state["step"], t["batch_size"], t,
                         CUDA_TEXT_WIDTH if cuda else None, workers)

    def save():
        save_checkpoint(work, model, opt, state, mean, std)

    t_last_ck = time.time()
    sums = {"ar": [], "noisy": []}
    model.train()
    try:
        while progress(state) < 1.0:
            t0 = time.time()
            if state["step"] % t["stats_every"] == 0:
                mean, std = embedding_stats(model)
            lr = lr_at(state, t)
            for g in opt.param_groups:
                g["lr"] = lr
            b = stream.next()
            text = torch.from_numpy(b["text"]).to(device, non_blocking=True)
            tmask = torch.from_numpy(b["mask"]).to(device, non_blocking=True)
            levels = torch.from_numpy(b["levels"]).to(device, non_blocking=True)
            codes = encode_images(torch.from_numpy(b["images"]), codebook)
            with torch.autocast(device.type, dtype=torch.bfloat16) if cuda or cpu_bf16 else contextlib.nullcontext():
                ce = forward_batch(model, text, tmask, codes, levels, mean, std, gen)
            loss = ce.mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            gn = torch.nn.utils.clip_grad_norm_(model.parameters(), t["grad_clip"])
            opt.step()
            with torch.no_grad():   # kept on the device; read at log time only
                noisy_rows = (levels > 0).any(1)
                sums["ar"].append(torch.stack([ce[~noisy_rows].sum(), (~noisy_rows).sum() * NUM_IMAGE_TOKENS]))
                sums["noisy"].append(torch.stack([ce[levels > 0].sum(), (levels > 0).sum()]))
            state["step"] += 1
            if cuda and state["step"] % 25 == 0:
                torch.cuda.synchronize()
            state["seconds"] += time.time() - t0
            if state["step"] % 25 == 0 or progress(state) >= 1.0:
                rec = {"step": state["step"], "seconds": round(state["seconds"], 1), "lr": round(lr, 6),
                       "ar_loss": _mean_of(sums["ar"]), "noisy_loss": _mean_of(sums["noisy"]),
                       "grad_norm": round(float(gn), 3), "sec_per_step": round(time.time() - t0, 3)}
                state["history"].append(rec)
                log_line(log_path, json.dumps(rec))
                sums = {"ar": [], "noisy": []}
            if time.time() - t_last_ck > t["checkpoint_seconds"]:
                save()
                t_last_ck = time.time()
    finally:
        stream.close()
    save()
    model.eval()
    return model.cpu(), state
