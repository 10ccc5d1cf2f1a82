"""Reading and writing checkpoints in the layouts upstream projects ship, without extra packages.

* safetensors (single file or sharded with ``*.safetensors.index.json``): a pure-Python reader that
  maps the file and decodes one tensor at a time (F32, F16, BF16, I64, ...); bf16 is widened to
  float32 by bit shifting, since numpy has no bfloat16.
* PyTorch pickles (``.pt`` / ``.bin`` / ``.ckpt``), optionally sharded with
  ``pytorch_model.bin.index.json``, loaded with ``torch.load(map_location="cpu")``; a top-level
  ``model`` / ``module`` / ``state_dict`` entry is unwrapped as LlamaGen's and taming's loaders do.

``Checkpoint`` gives one interface over both: ``keys()``, ``has(name)``, ``get(name)`` (a float32
or int64 torch tensor, decoded on demand) and ``prefixed(prefix)`` (a view with a name prefix).
"""
from __future__ import annotations

import json
import mmap
import os
import struct
from typing import Dict, Iterable, List, Optional

import numpy as np
import torch

_ST_DTYPES = {
    "F64": (np.float64, 8), "F32": (np.float32, 4), "F16": (np.float16, 2), "BF16": (None, 2),
    "I64": (np.int64, 8), "I32": (np.int32, 4), "I16": (np.int16, 2), "I8": (np.int8, 1),
    "U8": (np.uint8, 1), "BOOL": (np.bool_, 1),
}


class _SafetensorsFile:
    def __init__(self, path: str):
        self.path = path
        self._fh = open(path, "rb")
        (n,) = struct.unpack("<Q", self._fh.read(8))
        header = json.loads(self._fh.read(n).decode("utf-8"))
        self.meta = header.pop("__metadata__", None)
        self.entries = header
        self._base = 8 + n
        self._map = mmap.mmap(self._fh.fileno(), 0, access=mmap.ACCESS_READ)

    def __del__(self):
        try:
            self._map.close()
            self._fh.close()
        except Exception:
            pass

    def get(self, name: str) -> torch.Tensor:
        e = self.entries[name]
        dtype, width = _ST_DTYPES[e["dtype"]]
        start, end = e["data_offsets"]
        raw = self._map[self._base + start:self._base + end]
        shape = tuple(e["shape"])
        if e["dtype"] == "BF16":
            u16 = np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16
            arr = u16.view(np.float32)
        else:
            arr = np.frombuffer(raw, dtype=dtype)
        arr = arr.reshape(shape)
        if arr.dtype in (np.float16, np.float64):
            arr = arr.astype(np.float32)
        elif arr.dtype in (np.int32, np.int16, np.int8, np.uint8):
            arr = arr.astype(np.int64)
        return torch.from_numpy(np.array(arr, copy=True))


def write_safetensors(path: str, tensors: Dict[str, torch.Tensor], metadata: Optional[Dict[str, str]] = None) -> None:
    """Writes float32 / float16 / int64 tensors in the safetensors layout (sorted names, 8-byte aligned)."""
    names = sorted(tensors)
    header: Dict[str, object] = {}
    if metadata:
        header["__metadata__"] = metadata
    blobs: List[bytes] = []
    offset = 0
    for name in names:
        t = tensors[name].detach().cpu().contiguous()
        if t.dtype == torch.float32:
            code, data = "F32", t.numpy().astype("<f4").tobytes()
        elif t.dtype == torch.float16:
            code, data = "F16", t.numpy().astype("<f2").tobytes()
        elif t.dtype == torch.int64:
            code, data = "I64", t.numpy().astype("<i8").tobytes()
        else:
            raise ValueError(f"write_safetensors: unsupported dtype {t.dtype} for {name}")
        header[name] = {"dtype": code, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def _unwrap(obj):
    if isinstance(obj, dict):
        for key in ("model", "module", "state_dict"):
            if key in obj and isinstance(obj[key], dict):
                return obj[key]
    return obj


class Checkpoint:
    """A read-only tensor store: safetensors or torch pickles, single or sharded, file or folder."""

    def __init__(self, path: str, prefix: str = "", _sources=None):
        self.path = path
        self.prefix = prefix
        self._sources = _sources if _sources is not None else self._open(path)

    @staticmethod
    def _open(path: str):
        """Returns a dict name -> (loader, key) over every tensor found at path."""
        files: List[str] = []
        if os.path.isdir(path):
            entries = sorted(os.listdir(path))
            index = [e for e in entries if e.endswith(".safetensors.index.json") or e.endswith(".bin.index.json")]
            if index:
                with open(os.path.join(path, index[0]), encoding="utf-8") as f:
                    weight_map = json.load(f)["weight_map"]
                files = sorted({os.path.join(path, v) for v in weight_map.values()})
            else:
                files = [os.path.join(path, e) for e in entries if e.endswith(".safetensors")]
                if not files:
                    files = [os.path.join(path, e) for e in entries
                             if e.endswith((".bin", ".pt", ".pth", ".ckpt")) and not e.startswith("training_args")]
            if not files:
                raise FileNotFoundError(f"no *.safetensors / *.bin / *.pt weights in {path}")
        else:
            if not os.path.exists(path):
                raise FileNotFoundError(f"checkpoint {path} does not exist")
            files = [path]
        sources = {}
        for fpath in files:
            if fpath.endswith(".safetensors"):
                st = _SafetensorsFile(fpath)
                for name in st.entries:
                    sources[name] = (st, name)
            else:
                sd = _unwrap(torch.load(fpath, map_location="cpu"))
                holder = _PickleHolder(sd)
                for name, v in sd.items():
                    if isinstance(v, torch.Tensor):
                        sources[name] = (holder, name)
        return sources

    def prefixed(self, prefix: str) -> "Checkpoint":
        return Checkpoint(self.path, self.prefix + prefix, self._sources)

    def keys(self) -> List[str]:
        n = len(self.prefix)
        return sorted(k[n:] for k in self._sources if k.startswith(self.prefix))

    def has(self, name: str) -> bool:
        return (self.prefix + name) in self._sources

    def get(self, name: str) -> torch.Tensor:
        full = self.prefix + name
        if full not in self._sources:
            raise KeyError(f"checkpoint {self.path} has no tensor '{full}'")
        holder, key = self._sources[full]
        t = holder.get(key)
        if t.is_floating_point() and t.dtype != torch.float32:
            t = t.float()
        return t


class _PickleHolder:
    def __init__(self, sd):
        self.sd = sd

    def get(self, key):
        return self.sd[key]


def load_into(module: torch.nn.Module, ckpt: Checkpoint, names: Optional[Iterable[str]] = None,
              rename=None, transform=None, strict: bool = True) -> List[str]:
    """Copies checkpoint tensors into ``module``'s parameters and buffers.

    ``rename(param_name) -> checkpoint name`` maps our names to upstream ones (default: identical);
    ``transform(param_name, tensor) -> tensor`` adjusts a tensor (e.g. a permutation). Shapes must
    match exactly. Returns the names that were missing (raises when ``strict``)."""
    own = dict(module.named_parameters())
    own.update({k: v for k, v in module.named_buffers() if k in module.state_dict()})
    missing = []
    with torch.no_grad():
        for name in (names if names is not None else own.keys()):
            src = rename(name) if rename else name
            if src is None:
                continue
            if not ckpt.has(src):
                missing.append(src)
                continue
            t = ckpt.get(src)
            if transform is not None:
                t = transform(name, t)
            dst = own[name]
            if tuple(t.shape) != tuple(dst.shape):
                raise ValueError(f"{ckpt.prefix}{src}: checkpoint shape {tuple(t.shape)}, model expects {tuple(dst.shape)}")
            dst.copy_(t.to(dst.dtype))
    if missing and strict:
        shown = ", ".join(ckpt.prefix + m for m in missing[:5])
        raise KeyError(f"checkpoint {ckpt.path} lacks {len(missing)} tensors the model needs, e.g. {shown}")
    return missing


def read_json(path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)
