"""Export of the entropy-world model (docs/entropy-world.md, "Export") to a model folder.

    python3 export_models.py texture export --from TRAIN_DIR --out DIR [--cfg-scale 1] [--top-k 8] [--temperature 1]
    python3 export_models.py texture export --state DIR/torch_state.pt --out DIR2

``--from`` reads a training folder (``weights.pt``, or ``ckpt.pt`` when there is none, and
``vq.pt``); ``--state`` a ``torch_state.pt`` this command wrote. The folder is the default
model's (``world_export.export``): the four graphs (contract 2, with SJD2 noise levels),
``model.json``, ``vocab.txt``, ``parity.json``, ``texture_world.json``, ``training.json`` and a
``torch_state.pt`` with float16 weights. The graphs are exported from the float16-rounded
weights, so ``--state`` writes the same files byte for byte.

Sampling defaults (model.json ``sampling``): ``--cfg-scale``, ``--top-k``, ``--temperature``;
without a flag, the value ``--state`` recorded, else ``SAMPLING`` (the sampler's defaults in
``texture evaluate``).
"""
from __future__ import annotations

import argparse
import json
import os
from typing import List, Optional

import torch

from . import texture_train as tt
from . import texture_world as tw
from . import world_export

NAME = "entropy-world"
# CFG 1 and top-k 8 as `texture evaluate` samples; top-k 8 caps a code's entropy at log 8 = 2.08
# nats, so it is the first value the compression sweep should revisit.
SAMPLING = dict(cfg_scale=1.0, temperature=1.0, top_k=8, top_p=1.0)
STATE_DTYPE = torch.float16


def description(model) -> str:
    c = model.config
    return ("entropy-world model: text-to-image AR transformer (%d layers, d=%d) trained on the procedural "
            "texture world (docs/entropy-world.md)" % (c.num_layers, c.hidden_size))


def _json_clean(obj):
    # the same values whether they come from a training state or back from torch_state.pt
    return json.loads(json.dumps(obj))


def load_training_folder(work: str, sampling: dict):
    """(transformer, vq decoder, codebook, mean, std, meta) of a training folder, the weights
    rounded through float16 as torch_state.pt stores them."""
    path = os.path.join(work, "weights.pt")
    if not os.path.exists(path) and os.path.exists(os.path.join(work, "ckpt.pt")):
        path = os.path.join(work, "ckpt.pt")
    ck = torch.load(path, map_location="cpu")
    model = tt.new_model(ck["transformer_config"])
    model.load_state_dict(ck["model"])
    codebook, dec, vq_stats = tt.load_vq(work)
    model.eval()
    world_export.round_weights_(model, dec, dtype=STATE_DTYPE)
    st = ck["state"]
    meta = world_export.training_meta(st, vq_stats, sampling, tt.TRAIN, tt.MODEL)
    meta["world"] = "texture"
    return model, dec, codebook.numpy(), st["emb_mean"].float().clone(), st["emb_std"].float().clone(), meta


def export(out_dir: str, model, dec, codebook, mean, std, meta: dict, weights: str = "float32",
           block_size: Optional[int] = None, accuracy_level: Optional[int] = None) -> None:
    man = world_export.manifest(model, mean, std, name=NAME, description=description(model), world=tw,
                                max_prompt_tokens=tw.MAX_PROMPT_TOKENS, sampling=meta["sampling"])
    world_export.export(out_dir, model, dec, codebook, mean, std, meta, man, tt.TOKENIZER.tokens,
                        {"texture_world.json": tw.world_definition()}, STATE_DTYPE, weights, block_size,
                        accuracy_level)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="export_models.py texture export")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--from", dest="work", default=None, help="training folder (weights.pt or ckpt.pt, vq.pt)")
    src.add_argument("--state", default=None, help="a torch_state.pt written by this command")
    ap.add_argument("--out", required=True, help="model folder to write")
    ap.add_argument("--cfg-scale", type=float, default=None, help="default %g" % SAMPLING["cfg_scale"])
    ap.add_argument("--top-k", type=int, default=None, help="default %d" % SAMPLING["top_k"])
    ap.add_argument("--temperature", type=float, default=None, help="default %g" % SAMPLING["temperature"])
    ap.add_argument("--threads", type=int, default=None)
    from .quantize import add_arguments as add_weight_arguments
    add_weight_arguments(ap)
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    flags = {"cfg_scale": a.cfg_scale, "top_k": a.top_k, "temperature": a.temperature}
    if a.state:
        model, dec, codebook, mean, std, meta = world_export.load_torch_state(a.state)
        sampling = dict(SAMPLING, **meta.get("sampling", {}))
    else:
        sampling = dict(SAMPLING)
    sampling.update({k: v for k, v in flags.items() if v is not None})
    if a.work:
        model, dec, codebook, mean, std, meta = load_training_folder(a.work, sampling)
    meta = _json_clean(dict(meta, sampling=sampling))
    export(a.out, model, dec, codebook, mean, std, meta, a.weights, a.block_size, a.accuracy_level)
    sizes = world_export.folder_bytes(a.out)
    print("  " + ", ".join("%s %d" % s for s in sizes) + "; %d bytes in all" % sum(s for _, s in sizes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
