"""The model folder of a model trained on a procedural world (the shapes demo, the entropy world).

Both worlds share the tokenizer's special ids, the 64x64 image of 16x16 codes (``vq.py``), the
SJD2 noise schedule of ``demo_train.py`` and the training state a run saves, so one manifest,
one ``torch_state.pt`` layout and one folder writer serve both; ``demo.py`` and
``texture_export.py`` only name the world, its vocabulary and its sampling defaults.

``torch_state.pt`` holds the transformer and VQ decoder weights (float32, or float16 to keep a
larger model's folder small), the codebook, the SJD2 embedding statistics and the training
metadata, so ``load_torch_state`` rebuilds the PyTorch model without retraining. With float16
weights the graphs are exported from the float16-rounded weights (``round_weights_``), so a
re-export from the saved file writes the same bytes.
"""
from __future__ import annotations

import json
import os
from typing import Dict, List, Optional, Sequence

import torch

from . import vq
from .demo_train import SJD2
from .transformer import Sjd2Transformer, TransformerConfig


def manifest(model: Sjd2Transformer, mean: torch.Tensor, std: torch.Tensor, *, name: str, description: str,
             world, max_prompt_tokens: int, sampling: Dict) -> Dict:
    """model.json of a world model; ``world`` is the world's module (special ids, IMAGE_SIZE)."""
    c = model.config
    grid = world.IMAGE_SIZE // vq.PATCH
    return {
        "format": "sjd2onnx-model",
        "format_version": 1,
        "name": name,
        "description": description,
        "transformer": {"hidden_size": c.hidden_size, "num_layers": c.num_layers,
                        "num_kv_heads": c.num_kv_heads, "head_dim": c.head_dim,
                        "max_sequence_length": c.max_sequence_length},
        "image": {"grid_height": grid, "grid_width": grid, "codebook_size": c.codebook_size,
                  "height": world.IMAGE_SIZE, "width": world.IMAGE_SIZE, "pixel_range": [-1.0, 1.0]},
        "tokenizer": {"type": "wordpiece", "vocab": "vocab.txt", "lowercase": True,
                      "max_prompt_tokens": max_prompt_tokens},
        "sequence": {"prompt_prefix_ids": [world.BOS_ID], "prompt_suffix_ids": [],
                     "begin_of_image_ids": [world.BOI_ID], "end_of_line_id": None,
                     "end_of_image_ids": [world.EOI_ID]},
        "cfg": {"unconditional": "empty_prompt", "pad_id": world.PAD_ID, "negative_prompt": None},
        "sampling": dict(sampling),
        "graphs": {"text_embedding": "text_embedding.onnx", "image_embedding": "image_embedding.onnx",
                   "transformer": "transformer.onnx", "vq_decoder": "vq_decoder.onnx"},
        "sjd2": dict(SJD2, embedding_mean=[float(v) for v in mean],
                     embedding_std=[float(v) for v in std]),
    }


def training_meta(state: Dict, vq_stats: Dict, sampling: Dict, train_defaults: Dict, model_defaults: Dict) -> Dict:
    """training.json: the run's steps, time, settings per cycle and loss history."""
    hist = state["history"]
    return {"steps": state["step"], "total_steps_planned": state["total_steps"],
            "budget_seconds": state.get("budget_seconds"),
            "train_seconds": round(state["seconds"]),
            "train_by_cycle": state.get("train_by_cycle", [dict(train_defaults)]),
            "model": state.get("model_config", model_defaults), "vq": vq_stats,
            "sampling": sampling, "first_log": hist[0] if hist else None,
            "last_log": hist[-1] if hist else None, "history": hist}


def round_weights_(*modules: torch.nn.Module, dtype: torch.dtype = torch.float16) -> None:
    """Rounds every floating state entry through ``dtype`` in place: the values a ``torch_state.pt``
    saved in that dtype gives back."""
    with torch.no_grad():
        for m in modules:
            for v in m.state_dict().values():
                if v.is_floating_point():
                    v.copy_(v.to(dtype).to(v.dtype))


def save_torch_state(path: str, model: Sjd2Transformer, decoder, codebook, mean: torch.Tensor,
                     std: torch.Tensor, meta: Dict, dtype: torch.dtype = torch.float32) -> None:
    """``dtype``: of the transformer and decoder weights; codebook and statistics stay float32."""
    cast = lambda sd: {k: v.detach().cpu().to(dtype) for k, v in sd.items()}
    torch.save({"transformer_config": model.config.to_dict(), "transformer": cast(model.state_dict()),
                "vq_decoder": cast(decoder.state_dict()), "codebook": torch.as_tensor(codebook).float(),
                "embedding_mean": mean.float(), "embedding_std": std.float(), "meta": meta}, path)


def load_torch_state(path: str):
    """Rebuild (transformer, vq decoder, codebook, mean, std, meta) from torch_state.pt."""
    d = torch.load(path, map_location="cpu")
    model = Sjd2Transformer(TransformerConfig.from_dict(d["transformer_config"]))
    model.load_state_dict({k: v.float() for k, v in d["transformer"].items()})
    dec = vq.VqDecoder(d["codebook"].shape[0])
    dec.load_state_dict({k: v.float() for k, v in d["vq_decoder"].items()})
    return (model.eval(), dec.eval(), d["codebook"].float().numpy(), d["embedding_mean"],
            d["embedding_std"], d["meta"])


def write_json(path: str, obj) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")


def export(out_dir: str, model, decoder, codebook, mean, std, meta: Dict, man: Dict, tokens: Sequence[str],
           world_files: Dict[str, Dict], state_dtype: torch.dtype = torch.float32, weights: str = "float32",
           block_size: Optional[int] = None, accuracy_level: Optional[int] = None) -> None:
    """Writes the graphs, model.json ``man``, vocab.txt of ``tokens``, parity.json, the world files
    ({name: JSON object}), torch_state.pt and training.json (``meta``). ``weights`` int8 / int4:
    quantized linear layers (pysjd2.quantize); torch_state.pt keeps the unquantized weights."""
    from .onnx_export import export_model_folder
    os.makedirs(out_dir, exist_ok=True)
    vocab_text = "".join(t + "\n" for t in tokens)
    export_model_folder(out_dir, model, decoder, man, {"vocab.txt": vocab_text}, parity_seed=0, weights=weights,
                        block_size=block_size, accuracy_level=accuracy_level)
    for name, obj in world_files.items():
        write_json(os.path.join(out_dir, name), obj)
    save_torch_state(os.path.join(out_dir, "torch_state.pt"), model, decoder, codebook, mean, std, meta, state_dtype)
    write_json(os.path.join(out_dir, "training.json"), meta)


def folder_bytes(out_dir: str) -> List[tuple]:
    """(file name, size) of a model folder, sorted by name."""
    return [(n, os.path.getsize(os.path.join(out_dir, n))) for n in sorted(os.listdir(out_dir))]
