"""Training of the entropy-world model (docs/entropy-world.md): VQ tokenizer + SJD2 transformer on
the texture world (texture_world.py), with the default model's loss, noise segments and schedule
(demo_train.py) and checkpoints that ``--resume`` continues.

    python3 export_models.py texture train --out DIR [--minutes M] [--steps N] [--resume]
                                           [--init-weights OTHER/weights.pt]
                                           [--device cpu|cuda] [--threads T] [--batch B]
    python3 export_models.py texture decoder --out DIR [--minutes M]   (more VQ-decoder training)
    python3 export_models.py texture entropy ...   (texture_entropy.py)   texture validate ... (texture_eval.py)
    python3 export_models.py texture evaluate --out DIR [--n 40] ...   (texture_sample.py: sample + TextureEval)
    python3 export_models.py texture export --from DIR --out MODEL_DIR   (texture_export.py: a model folder)

Work files in ``--out`` (a training folder, not a model folder): ``vq.pt`` (k-means codebook +
decoder, built once), ``ckpt.pt`` (with the optimizer), ``weights.pt`` (without) and
``train_log.txt``.
"""
from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import math
import os
import sys
import time
from typing import Dict, List, Optional

import numpy as np
import torch
import torch.nn.functional as F

from . import demo_train as dt
from . import texture_world as tw
from . import vq
from .transformer import Sjd2Transformer, TransformerConfig

CODEBOOK_SIZE = 1024
NUM_IMAGE_TOKENS = dt.NUM_IMAGE_TOKENS
TEXT_WIDTH = tw.MAX_PROMPT_TOKENS + 2          # [BOS] prompt [BOI], fixed width on a GPU

# 4.8 M parameters: 19 MB of float32 graph, so the model folder stays under 40 MB with a
# float16 torch_state.pt
MODEL = dict(hidden_size=256, num_layers=6, num_heads=8, num_kv_heads=2, head_dim=32,
             ffn_size=704, max_sequence_length=320, rope_theta=10000.0, noise_conditioning=True)
TRAIN = dict(dt.TRAIN, checkpoint_seconds=180)
CUDA_TRAIN = dict(batch_size=256, lr=1.5e-3, warmup=300, checkpoint_seconds=120)
VQ_BUILD = dict(images=6000, patches=300000, iters=20, decoder_minutes=3.0)
CPU_VQ_BUILD = dict(images=3000, patches=100000, iters=15, decoder_minutes=3.0)
TOKENIZER = tw.tokenizer()


# ------------------------------------------------------------------------------------------
# VQ tokenizer
# ------------------------------------------------------------------------------------------
def kmeans_device(data: torch.Tensor, k: int, iters: int, seed: int, log) -> torch.Tensor:
    """Lloyd k-means on the data's device (the same algorithm as vq.kmeans): dead codes are
    re-seeded at the worst-fitted points."""
    g = torch.Generator().manual_seed(seed)
    n = data.shape[0]
    c = data[torch.randperm(n, generator=g)[:k].to(data.device)].clone()
    for it in range(iters):
        assign = torch.empty(n, dtype=torch.long, device=data.device)
        err = torch.empty(n, device=data.device)
        for s in range(0, n, 65536):
            e, a = vq._sqdist(data[s:s + 65536], c).min(1)
            assign[s:s + 65536], err[s:s + 65536] = a, e
        sums = torch.zeros_like(c).index_add_(0, assign, data)
        counts = torch.bincount(assign, minlength=k).float()
        live = counts > 0
        c[live] = sums[live] / counts[live].unsqueeze(1)
        dead = int((~live).sum())
        if dead:
            c[~live] = data[torch.topk(err, dead).indices]
        if it % 5 == 0 or it == iters - 1:
            log("kmeans it %d mse %.5f dead %d" % (it, float(err.mean()), dead))
    return c


def build_vq(work: str, device: torch.device, log, cfg: Dict) -> Dict:
    rng = np.random.default_rng(0)
    t0 = time.time()
    imgs, _, _ = tw.sample_batch(rng, cfg["images"], "all")
    p = vq.patches(vq.to_unit(imgs)).reshape(-1, vq.PATCH * vq.PATCH * 3)
    sel = rng.choice(p.shape[0], min(p.shape[0], cfg["patches"]), replace=False)
    codebook = kmeans_device(torch.from_numpy(p[sel]).to(device), CODEBOOK_SIZE, cfg["iters"], 0, log)
    log("kmeans done in %.0fs" % (time.time() - t0))
    test_imgs, _, _ = tw.sample_batch(np.random.default_rng(999), cfg.get("heldout_images", 500), "all")
    test_codes = dt.encode_images(torch.from_numpy(test_imgs), codebook).view(-1, 16, 16)
    test_unit = torch.from_numpy(vq.to_unit(test_imgs).transpose(0, 3, 1, 2).copy()).to(device)
    dec = vq.VqDecoder(CODEBOOK_SIZE).to(device)
    with torch.no_grad():
        dec.centroids.weight.copy_(codebook)
        psnr_c = vq.psnr(dec(test_codes).cpu().numpy(), test_unit.cpu().numpy())
    log("held-out PSNR, centroids only: %.2f dB" % psnr_c)
    opt = torch.optim.AdamW(dec.parameters(), lr=2e-3, weight_decay=0.0)
    step = fit_decoder(dec, opt, codebook, rng, 64, cfg["decoder_minutes"], device, log)
    with torch.no_grad():
        psnr_d = vq.psnr(dec(test_codes).cpu().numpy(), test_unit.cpu().numpy())
    log("held-out PSNR, trained decoder: %.2f dB (%d steps)" % (psnr_d, step))
    stats = {"codebook_size": CODEBOOK_SIZE, "psnr_centroids_db": round(psnr_c, 2),
             "psnr_decoder_db": round(psnr_d, 2), "decoder_steps": step, "heldout_images": len(test_imgs),
             "train_images_kmeans": cfg["images"], "seconds": round(time.time() - t0)}
    d = {"codebook": codebook.cpu(), "decoder": {k: v.cpu() for k, v in dec.state_dict().items()}, "stats": stats}
    tmp = os.path.join(work, "vq.pt.tmp")
    torch.save(d, tmp)
    os.replace(tmp, os.path.join(work, "vq.pt"))
    return d


def fit_decoder(dec, opt, codebook: torch.Tensor, rng, batch: int, minutes: float, device: torch.device, log) -> int:
    """Trains the VQ decoder on freshly drawn scenes (MSE to the image) for `minutes`; returns the steps
    taken and leaves it in eval mode."""
    t0, step = time.time(), 0
    dec.train()
    while time.time() - t0 < minutes * 60:
        bt = torch.from_numpy(tw.sample_batch(rng, batch, "all")[0])
        codes = dt.encode_images(bt, codebook).view(-1, 16, 16)
        target = bt.to(device).float().div(127.5).sub(1).permute(0, 3, 1, 2)
        loss = F.mse_loss(dec(codes), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % 50 == 0:
            log("decoder step %d mse %.5f (%.2f dB)" % (step, float(loss), 10 * math.log10(4 / float(loss))))
    dec.eval()
    return step


def train_decoder(work: str, minutes: float, device: torch.device, batch: int = 64, log=print) -> Dict:
    """More decoder training on the folder's codebook (the transformer only sees the codes, so the
    decoder can improve at any time without retraining it); replaces vq.pt."""
    d = torch.load(os.path.join(work, "vq.pt"), map_location="cpu")
    codebook = d["codebook"].float().to(device)
    dec = vq.VqDecoder(codebook.shape[0]).to(device)
    dec.load_state_dict(d["decoder"])
    opt = torch.optim.AdamW(dec.parameters(), lr=1e-3, weight_decay=0.0)
    rng = np.random.default_rng(int(d["stats"].get("decoder_steps", 0)) + 17)
    step = fit_decoder(dec, opt, codebook, rng, batch, minutes, device, log)
    test_imgs, _, _ = tw.sample_batch(np.random.default_rng(999), 500, "all")
    with torch.no_grad():
        codes = dt.encode_images(torch.from_numpy(test_imgs), codebook).view(-1, 16, 16)
        psnr_d = vq.psnr(dec(codes).cpu().numpy(), vq.to_unit(test_imgs).transpose(0, 3, 1, 2))
    d["decoder"] = {k: v.cpu() for k, v in dec.state_dict().items()}
    d["stats"] = dict(d["stats"], psnr_decoder_db=round(psnr_d, 2),
                      decoder_steps=int(d["stats"].get("decoder_steps", 0)) + step)
    log("held-out PSNR, trained decoder: %.2f dB (%d steps in all)" % (psnr_d, d["stats"]["decoder_steps"]))
    tmp = os.path.join(work, "vq.pt.tmp")
    torch.save(d, tmp)
    os.replace(tmp, os.path.join(work, "vq.pt"))
    return d["stats"]


def load_vq(work: str):
    d = torch.load(os.path.join(work, "vq.pt"), map_location="cpu")
    dec = vq.VqDecoder(d["codebook"].shape[0])
    dec.load_state_dict(d["decoder"])
    return d["codebook"].float(), dec.eval(), d["stats"]


# ------------------------------------------------------------------------------------------
# data
# ------------------------------------------------------------------------------------------
def draw_batch(seed: int, batch: int, t: Dict, text_width: Optional[int]) -> Dict[str, np.ndarray]:
    """One training batch from its own seed (texture world, no held-out pair)."""
    rng = np.random.default_rng(seed)
    images, caps, _ = tw.sample_batch(rng, batch, "train")
    prompts = []
    for c in caps:
        ids = [] if rng.random() < t["caption_dropout"] else TOKENIZER.encode(c)
        assert len(ids) <= tw.MAX_PROMPT_TOKENS, c
        prompts.append([tw.BOS_ID] + ids + [tw.BOI_ID])
    text, mask = dt.left_pad(prompts, text_width)
    return {"text": text, "mask": mask, "images": images, "levels": dt.noise_segments(rng, batch, dt.SIGMAS, t)}


def new_model(config: Optional[Dict] = None) -> Sjd2Transformer:
    if config is not None:
        return Sjd2Transformer(TransformerConfig.from_dict(config))
    return Sjd2Transformer(TransformerConfig(text_vocab_size=len(TOKENIZER.tokens),
                                             codebook_size=CODEBOOK_SIZE, **MODEL))


# ------------------------------------------------------------------------------------------
# loop
# ------------------------------------------------------------------------------------------
def train(args) -> Dict:
    work = os.path.abspath(args.out)
    os.makedirs(work, exist_ok=True)
    log_path = os.path.join(work, "train_log.txt")
    log = lambda s: dt.log_line(log_path, s)
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    t = dt.settings_for(args, TRAIN, CUDA_TRAIN, cuda)
    source_vq = os.path.join(os.path.dirname(os.path.abspath(args.init_weights)), "vq.pt") if getattr(args, "init_weights", None) else None
    if not os.path.exists(os.path.join(work, "vq.pt")) and source_vq and os.path.exists(source_vq):
        import shutil   # the weights were trained on that folder's codebook
        shutil.copyfile(source_vq, os.path.join(work, "vq.pt"))
        log("tokenizer copied from %s" % source_vq)
    if not os.path.exists(os.path.join(work, "vq.pt")):
        log("building the VQ tokenizer (k-means %d codes + decoder)" % CODEBOOK_SIZE)
        build_vq(work, device, log, VQ_BUILD if cuda else CPU_VQ_BUILD)
    codebook, _, vq_stats = load_vq(work)
    ckpt_path = os.path.join(work, "ckpt.pt")
    ck = torch.load(ckpt_path, map_location="cpu") if args.resume and os.path.exists(ckpt_path) else None
    if args.resume and ck is None:
        log("no checkpoint in %s: starting a new run" % work)
    if ck is None and getattr(args, "init_weights", None):
        ck = torch.load(args.init_weights, map_location="cpu")
        ck.pop("opt", None)
    model = new_model(ck["transformer_config"] if ck else None).to(device)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "_embed." not in n]
    no_decay = [p for n, p in model.named_parameters() if not any(p is q for q in decay)]
    fused = {"fused": True} if cuda and "fused" in inspect.signature(torch.optim.AdamW).parameters else {}
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": t["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}], lr=t["lr"], betas=t["betas"], **fused)
    state = {"step": 0, "seconds": 0.0, "history": [], "total_steps": args.steps,
             "budget_seconds": args.minutes * 60 if args.minutes else None, "world": "texture"}
    if ck is not None:
        model.load_state_dict(ck["model"])
        state = ck["state"]
        if "opt" in ck:
            opt.load_state_dict(ck["opt"])
        else:   # --init-weights: a new cosine cycle (warm-up, fresh optimizer), e.g. on a GPU after a CPU run
            state["cycle"] = state.get("cycle", 0) + 1
            state["cycle_step"], state["cycle_seconds"] = state["step"], state["seconds"]
            state["total_steps"], state["budget_seconds"] = args.steps, None
        if args.steps_given:
            state["total_steps"] = args.steps
        if args.minutes:
            state["budget_seconds"] = args.minutes * 60
        log("continuing at step %d (%.0fs trained), cycle %d" % (state["step"], state["seconds"], state.get("cycle", 0)))
    else:
        log("model: %.2f M parameters, %s" % (sum(p.numel() for p in model.parameters()) / 1e6, json.dumps(MODEL)))
    state.setdefault("train_by_cycle", []).append(dict(t, device=str(device)))
    state["model_config"] = model.config.to_dict()
    state["vq"] = vq_stats
    torch.manual_seed(3000 + state["step"])
    gen = torch.Generator(device=device).manual_seed(3000 + state["step"])
    codebook = codebook.to(device)
    mean, std = dt.embedding_stats(model)
    if "emb_mean" in state:
        mean, std = state["emb_mean"].to(device), state["emb_std"].to(device)
    if cuda:
        dt.check_fused_attention(model, device, log)
    workers = args.workers if args.workers is not None else (min(14, max(0, (os.cpu_count() or 1) - 2)) if cuda else 0)
    stream = dt.BatchStream(7000003 * (state.get("cycle", 0) + 1) + state["step"], t["batch_size"], t, TEXT_WIDTH if cuda else None, workers,
                             draw=draw_batch)

    def save():
        dt.save_checkpoint(work, model, opt, state, mean, std)
        log("checkpoint at step %d: %s" % (state["step"], os.path.join(work, "ckpt.pt")))

    t_last_ck = time.time()
    sums: Dict[str, List] = {"ar": [], "noisy": []}
    model.train()
    try:
        while dt.progress(state) < 1.0:
            t0 = time.time()
            if state["step"] % t["stats_every"] == 0:
                mean, std = dt.embedding_stats(model)
            lr = dt.lr_at(state, t)
            for g in opt.param_groups:
                g["lr"] = lr
            b = stream.next()
            text = torch.from_numpy(b["text"]).to(device, non_blocking=True)
            tmask = torch.from_numpy(b["mask"]).to(device, non_blocking=True)
            levels = torch.from_numpy(b["levels"]).to(device, non_blocking=True)
            codes = dt.encode_images(torch.from_numpy(b["images"]), codebook)
            with torch.autocast(device.type, dtype=torch.bfloat16) if cuda else contextlib.nullcontext():
                ce = dt.forward_batch(model, text, tmask, codes, levels, mean, std, gen)
            loss = ce.mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            gn = torch.nn.utils.clip_grad_norm_(model.parameters(), t["grad_clip"])
            opt.step()
            with torch.no_grad():
                noisy_rows = (levels > 0).any(1)
                sums["ar"].append(torch.stack([ce[~noisy_rows].sum(), (~noisy_rows).sum() * NUM_IMAGE_TOKENS]))
                sums["noisy"].append(torch.stack([ce[levels > 0].sum(), (levels > 0).sum()]))
            state["step"] += 1
            if cuda and state["step"] % 25 == 0:
                torch.cuda.synchronize()
            state["seconds"] += time.time() - t0
            every = 25 if cuda else 5
            if state["step"] % every == 0 or dt.progress(state) >= 1.0:
                rec = {"step": state["step"], "seconds": round(state["seconds"], 1), "lr": round(lr, 6),
                       "ar_loss": dt._mean_of(sums["ar"]), "noisy_loss": dt._mean_of(sums["noisy"]),
                       "grad_norm": round(float(gn), 3), "sec_per_step": round(time.time() - t0, 3)}
                state["history"].append(rec)
                log(json.dumps(rec))
                sums = {"ar": [], "noisy": []}
            if time.time() - t_last_ck > t["checkpoint_seconds"]:
                save()
                t_last_ck = time.time()
    finally:
        stream.close()
    save()
    return state


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    cmd = argv.pop(0) if argv and argv[0] in ("train", "entropy", "decoder", "validate", "evaluate", "export") else "train"
    if cmd == "export":
        from . import texture_export
        return texture_export.main(argv)
    if cmd == "evaluate":
        from . import texture_sample
        return texture_sample.main(argv)
    if cmd == "entropy":
        from . import texture_entropy
        return texture_entropy.main(argv)
    if cmd == "validate":
        from . import texture_eval
        return texture_eval.main(argv)
    if cmd == "decoder":
        ap = argparse.ArgumentParser(prog="export_models.py texture decoder")
        ap.add_argument("--out", required=True, help="training folder holding vq.pt")
        ap.add_argument("--minutes", type=float, default=5.0)
        ap.add_argument("--device", default=None)
        ap.add_argument("--threads", type=int, default=None)
        a = ap.parse_args(argv)
        torch.set_num_threads(a.threads or max(1, os.cpu_count() or 1))
        dev = torch.device(a.device or ("cuda" if torch.cuda.is_available() else "cpu"))
        train_decoder(os.path.abspath(a.out), a.minutes, dev, log=lambda m: dt.log_line(os.path.join(a.out, "train_log.txt"), m))
        return 0
    ap = argparse.ArgumentParser(prog="export_models.py texture train")
    ap.add_argument("--out", required=True, help="training folder: vq.pt, ckpt.pt, weights.pt, train_log.txt")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--minutes", type=float, default=None, help="time budget the cosine schedule follows")
    ap.add_argument("--resume", action="store_true", help="continue from --out/ckpt.pt")
    ap.add_argument("--init-weights", default=None,
                    help="start a new cosine cycle from a weights.pt / ckpt.pt (fresh optimizer and warm-up)")
    ap.add_argument("--device", default=None)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--workers", type=int, default=None, help="data worker processes (GPU default: cores - 2)")
    args = ap.parse_args(argv)
    dt.resolve_run_args(args)
    train(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
