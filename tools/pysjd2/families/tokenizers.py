"""Tokenizer files for the families: conversion of upstream formats into what the engine loads
(docs/model-format.md, ``tokenizer`` section), small reference encoders in Python (used for the
tiny models' cross-check cases and for fine-tuning data), and builders of tiny tokenizers in the
upstream formats.

Formats:

* Hugging Face ``tokenizer.json`` with a byte-level BPE model (Janus-Pro / DeepSeek, Chameleon /
  Lumina-mGPT) -> ``vocab.json`` + ``merges.txt`` + manifest fields ``byte_level``,
  ``pre_tokenizer`` (the ``Split`` / ``Digits`` / ``Punctuation`` / ``ByteLevel`` sequence as regex
  splits with Hugging Face semantics) and ``special_tokens`` (added tokens).
* tiktoken ranks (Emu3's ``emu3.tiktoken``): copied as is (``tokenizer.type`` tiktoken) with the
  regex as a single isolated split.
* SentencePiece ``*.model`` (T5's ``spiece.model``): copied as is.

The Python encoders translate ``\\p{L}``/``\\p{N}``/``\\p{P}`` into approximate character classes
(exact on ASCII text), since Python's ``re`` lacks Unicode properties. The engine uses .NET regexes,
which have them.
"""
from __future__ import annotations

import base64
import json
import math
import re
import struct
import unicodedata
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

GPT2_SPLIT = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
SPM_SPACE = "\u2581"


def bytes_to_unicode() -> Dict[int, str]:
    """GPT-2's reversible byte -> printable character map."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\u00a1"), ord("\u00ac") + 1)) + \
        list(range(ord("\u00ae"), ord("\u00ff") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


# ------------------------------------------------------------------------------------------------
# Hugging Face tokenizer.json -> engine files
# ------------------------------------------------------------------------------------------------
def _hf_regex(pattern) -> str:
    if isinstance(pattern, dict):
        if "Regex" in pattern:
            return pattern["Regex"]
        if "String" in pattern:
            return re.escape(pattern["String"])
    raise ValueError(f"unsupported Split pattern {pattern!r}")


def _behavior(b: str) -> str:
    m = {"Isolated": "isolated", "Removed": "removed", "MergedWithPrevious": "merged_with_previous",
         "MergedWithNext": "merged_with_next", "Contiguous": "contiguous"}
    if b not in m:
        raise ValueError(f"unsupported Split behavior {b!r}")
    return m[b]


def hf_pre_tokenizer_to_splits(pre: Optional[dict]) -> Tuple[List[dict], bool]:
    """Returns (splits, byte_level) for a tokenizer.json ``pre_tokenizer`` object."""
    if pre is None:
        return [], False
    items = pre["pretokenizers"] if pre.get("type") == "Sequence" else [pre]
    splits: List[dict] = []
    byte_level = False
    for p in items:
        t = p.get("type")
        if t == "Split":
            splits.append({"pattern": _hf_regex(p["pattern"]), "behavior": _behavior(p.get("behavior", "Isolated")),
                           "invert": bool(p.get("invert", False))})
        elif t == "Digits":
            splits.append({"pattern": r"\p{N}" if p.get("individual_digits") else r"\p{N}+",
                           "behavior": "isolated", "invert": False})
        elif t == "Punctuation":
            splits.append({"pattern": r"\p{P}|[!-/:-@\[-`{-~]", "behavior": _behavior(p.get("behavior", "Isolated")),
                           "invert": False})
        elif t == "ByteLevel":
            if p.get("add_prefix_space"):
                raise ValueError("ByteLevel pre-tokenizer with add_prefix_space is not supported")
            if p.get("use_regex", True):
                splits.append({"pattern": GPT2_SPLIT, "behavior": "isolated", "invert": False})
            byte_level = True
        else:
            raise ValueError(f"unsupported pre-tokenizer component {t!r}")
    return splits, byte_level


def convert_hf_tokenizer(tokenizer_json: dict, keep_special: Optional[Iterable[str]] = None,
                         max_special: int = 512) -> Tuple[Dict[str, object], dict]:
    """tokenizer.json -> (files {name: text}, manifest tokenizer fields).

    Added tokens become ``special_tokens``; when there are more than ``max_special`` of them only
    those named in ``keep_special`` are kept (they are only needed when they appear in prompt text)."""
    model = tokenizer_json["model"]
    if model.get("type") != "BPE":
        raise ValueError(f"tokenizer.json model type {model.get('type')!r}: only BPE is supported")
    if model.get("continuing_subword_prefix") or model.get("end_of_word_suffix"):
        raise ValueError("BPE with continuing_subword_prefix / end_of_word_suffix is not supported")
    if model.get("ignore_merges"):
        print("  warning: tokenizer.json has ignore_merges (whole pre-tokens looked up first); the engine's BPE "
              "applies merges only, which can differ for words in the vocabulary that merges do not reach")
    norm = tokenizer_json.get("normalizer")
    normalization = None
    if norm is not None:
        kinds = [n.get("type") for n in (norm["normalizers"] if norm.get("type") == "Sequence" else [norm])]
        if kinds == ["NFC"]:
            normalization = "nfc"
        elif kinds == ["NFKC"]:
            normalization = "nfkc"
        else:
            raise ValueError(f"tokenizer.json normalizer {kinds} is not supported")
    splits, byte_level = hf_pre_tokenizer_to_splits(tokenizer_json.get("pre_tokenizer"))
    vocab = dict(model["vocab"])
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]
    added = {t["content"]: int(t["id"]) for t in tokenizer_json.get("added_tokens", [])}
    if len(added) > max_special:
        keep = set(keep_special or [])
        added = {k: v for k, v in added.items() if k in keep}
    files = {"vocab.json": json.dumps(vocab, ensure_ascii=False), "merges.txt": "#version: 0.2\n" + "\n".join(merges) + "\n"}
    fields = {"type": "bpe", "vocab": "vocab.json", "merges": "merges.txt", "byte_level": byte_level}
    if splits:
        fields["pre_tokenizer"] = splits
    if added:
        fields["special_tokens"] = added
    if normalization:
        fields["normalization"] = normalization
    return files, fields


def hf_token_id(tokenizer_json: dict, content: str) -> int:
    for t in tokenizer_json.get("added_tokens", []):
        if t["content"] == content:
            return int(t["id"])
    v = tokenizer_json["model"]["vocab"]
    if content in v:
        return int(v[content])
    raise KeyError(f"token {content!r} is not in the tokenizer")


# ------------------------------------------------------------------------------------------------
# Python encoders (reference / data preparation)
# ------------------------------------------------------------------------------------------------
_CLASS = {
    "L": "A-Za-z\u00aa\u00b5\u00ba\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02c1\u0370-\u0373\u0386-\u03ff\u0400-\u0481"
         "\u048a-\u052f\u3041-\u3096\u30a1-\u30fa\u4e00-\u9fff\uac00-\ud7a3",
    "N": "0-9\u00b2\u00b3\u00b9\u00bc-\u00be\u0660-\u0669\u06f0-\u06f9\u0966-\u096f\uff10-\uff19",
    "P": "!-#%-*,-/:;?@\\[-\\]_{}\u00a1\u00a7\u00ab\u00b6\u00b7\u00bb\u00bf\u2010-\u2027\u3001-\u3003",
}


def python_regex(pattern: str) -> str:
    r"""Rewrites \p{L}, \p{N}, \p{P} (and \P{..}) for Python's re: inside [...] the class body is
    inserted, outside a [...] class is wrapped around it."""
    out, i, in_class = [], 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            if nxt in "pP" and i + 2 < len(pattern) and pattern[i + 2] == "{":
                end = pattern.index("}", i)
                name = pattern[i + 3:end][:1]
                body = _CLASS.get(name)
                if body is None:
                    raise ValueError(f"cannot translate \\{nxt}{{{pattern[i + 3:end]}}}")
                if in_class:
                    if nxt == "P":
                        raise ValueError("negated property inside a class is not supported")
                    out.append(body)
                else:
                    out.append(("[^" if nxt == "P" else "[") + body + "]")
                i = end + 1
                continue
            out.append(pattern[i:i + 2])
            i += 2
            continue
        if c == "[" and not in_class:
            in_class = True
        elif c == "]" and in_class:
            in_class = False
        out.append(c)
        i += 1
    return "".join(out)


def split_sequence(text: str, splits: Sequence[dict]) -> List[str]:
    """Hugging Face Split semantics (same algorithm as the engine's SplitSequencePreTokenizer)."""
    pieces = [text] if text else []
    for sp in splits:
        rx = re.compile(python_regex(sp["pattern"]))
        invert = sp.get("invert", False)
        behavior = sp.get("behavior", "isolated")
        nxt: List[str] = []
        for piece in pieces:
            spans, pos = [], 0
            for m in rx.finditer(piece):
                if m.end() == m.start():
                    continue
                if m.start() > pos:
                    spans.append((piece[pos:m.start()], invert))
                spans.append((m.group(0), not invert))
                pos = m.end()
            if pos < len(piece):
                spans.append((piece[pos:], invert))
            if behavior == "isolated":
                nxt += [s for s, _ in spans]
            elif behavior == "removed":
                nxt += [s for s, d in spans if not d]
            elif behavior == "merged_with_previous":
                open_ = False
                for s, d in spans:
                    if d and open_:
                        nxt[-1] += s
                        open_ = False
                    else:
                        nxt.append(s)
                        open_ = not d
            elif behavior == "merged_with_next":
                pend = None
                for s, d in spans:
                    if d:
                        if pend is not None:
                            nxt.append(pend)
                        pend = s
                    else:
                        nxt.append((pend or "") + s)
                        pend = None
                if pend is not None:
                    nxt.append(pend)
            elif behavior == "contiguous":
                run = None
                for s, d in spans:
                    if d:
                        run = (run or "") + s
                    else:
                        if run is not None:
                            nxt.append(run)
                            run = None
                        nxt.append(s)
                if run is not None:
                    nxt.append(run)
            else:
                raise ValueError(behavior)
        pieces = nxt
    return pieces


def _split_special(text: str, special: Dict[str, int]):
    """Yields (text, None) and (None, id) segments, special tokens matched literally, longest first."""
    toks = sorted(special, key=lambda t: (-len(t), t))
    i, start = 0, 0
    while i < len(text):
        hit = next((t for t in toks if text.startswith(t, i)), None)
        if hit is None:
            i += 1
            continue
        if i > start:
            yield text[start:i], None
        yield None, special[hit]
        i += len(hit)
        start = i
    if start < len(text):
        yield text[start:], None


def _merge_by_rank(parts: list, rank_of) -> list:
    """BPE: repeatedly merge the adjacent pair with the lowest rank (rank_of(a, b) or None)."""
    while len(parts) > 1:
        best, at = None, -1
        for j in range(len(parts) - 1):
            r = rank_of(parts[j], parts[j + 1])
            if r is not None and (best is None or r < best):
                best, at = r, j
        if best is None:
            break
        parts[at:at + 2] = [parts[at] + parts[at + 1]]
    return parts


class ByteLevelBpe:
    def __init__(self, vocab: Dict[str, int], merges: Sequence[str], splits: Sequence[dict],
                 special: Optional[Dict[str, int]] = None, byte_level: bool = True):
        self.vocab = vocab
        self.ranks = {tuple(m.split(" ")): i for i, m in enumerate(merges)}
        self.splits = list(splits)
        self.special = dict(special or {})
        self.byte_level = byte_level
        self.b2u = bytes_to_unicode()

    def _bpe(self, word: str) -> List[str]:
        return _merge_by_rank(list(word), lambda a, b: self.ranks.get((a, b)))

    def encode(self, text: str) -> List[int]:
        ids: List[int] = []
        for seg, sid in _split_special(text, self.special):
            if sid is not None:
                ids.append(sid)
                continue
            for piece in (split_sequence(seg, self.splits) if self.splits else [seg]):
                word = "".join(self.b2u[b] for b in piece.encode("utf-8")) if self.byte_level else piece
                ids += [self.vocab[t] for t in self._bpe(word)]
        return ids


class Tiktoken:
    def __init__(self, ranks: Dict[bytes, int], splits: Sequence[dict], special: Optional[Dict[str, int]] = None):
        self.ranks = ranks
        self.splits = list(splits)
        self.special = dict(special or {})

    @staticmethod
    def read(path: str) -> Dict[bytes, int]:
        ranks = {}
        with open(path, "rb") as f:
            for line in f.read().splitlines():
                if line:
                    tok, rank = line.split()
                    ranks[base64.b64decode(tok)] = int(rank)
        return ranks

    def _bpe(self, piece: bytes) -> List[int]:
        parts = _merge_by_rank([piece[i:i + 1] for i in range(len(piece))], lambda a, b: self.ranks.get(a + b))
        return [self.ranks[p] for p in parts]

    def encode(self, text: str) -> List[int]:
        ids: List[int] = []
        for seg, sid in _split_special(text, self.special):
            if sid is not None:
                ids.append(sid)
                continue
            for piece in split_sequence(seg, self.splits):
                ids += self._bpe(piece.encode("utf-8"))
        return ids


# ------------------------------------------------------------------------------------------------
# SentencePiece model files (protobuf wire format written and read by hand)
# ------------------------------------------------------------------------------------------------
def _varint(n: int) -> bytes:
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(num: int, wire: int) -> bytes:
    return _varint((num << 3) | wire)


def _len_field(num: int, payload: bytes) -> bytes:
    return _field(num, 2) + _varint(len(payload)) + payload


def sentencepiece_model_bytes(pieces: Sequence[Tuple[str, float, int]], model_type: int = 1, unk_id: int = 2,
                              bos_id: int = -1, eos_id: int = 1, pad_id: int = 0) -> bytes:
    """A ModelProto: pieces (piece, score, type: 1 normal, 2 unknown, 3 control), trainer spec
    (model type 1 unigram / 2 bpe, special ids) and an identity normaliser with a dummy prefix."""
    out = bytearray()
    for piece, score, typ in pieces:
        body = _len_field(1, piece.encode("utf-8")) + _field(2, 5) + struct.pack("<f", score) + _field(3, 0) + _varint(typ)
        out += _len_field(1, body)
    trainer = (_field(3, 0) + _varint(model_type) + _field(4, 0) + _varint(len(pieces))
               + _field(40, 0) + _varint(unk_id) + _field(41, 0) + _varint(bos_id)
               + _field(42, 0) + _varint(eos_id) + _field(43, 0) + _varint(pad_id))
    out += _len_field(2, trainer)
    norm = (_len_field(1, b"identity") + _field(3, 0) + _varint(1) + _field(4, 0) + _varint(1)
            + _field(5, 0) + _varint(1))
    out += _len_field(3, norm)
    return bytes(out)


def _read_varint(buf: bytes, i: int) -> Tuple[int, int]:
    n, shift = 0, 0
    while True:
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, i


def _messages(buf: bytes):
    i = 0
    while i < len(buf):
        key, i = _read_varint(buf, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            v, i = _read_varint(buf, i)
        elif wire == 1:
            v, i = buf[i:i + 8], i + 8
        elif wire == 2:
            ln, i = _read_varint(buf, i)
            v, i = buf[i:i + ln], i + ln
        elif wire == 5:
            v, i = buf[i:i + 4], i + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        yield num, wire, v


def _raw_fields(buf: bytes):
    """(field number, raw bytes of the whole field) for each top-level field of a message."""
    i = 0
    while i < len(buf):
        start = i
        key, i = _read_varint(buf, i)
        wire = key & 7
        if wire == 0:
            _, i = _read_varint(buf, i)
        elif wire == 1:
            i += 8
        elif wire == 2:
            ln, i = _read_varint(buf, i)
            i += ln
        elif wire == 5:
            i += 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        yield key >> 3, buf[start:i]


def sentencepiece_for_engine(data: bytes) -> bytes:
    """Returns the model with ``trainer_spec.bos_id`` set to the pad (or unk) id when it is -1.

    Microsoft.ML.Tokenizers 2.0.1 fails to load unigram models without a BOS piece (T5's
    spiece.model has bos_id -1); the engine never adds BOS, so the value is never used."""
    out = bytearray()
    for num, raw in _raw_fields(data):
        if num != 2:
            out += raw
            continue
        _, _, body = next(_messages(raw))
        fields = dict()
        for n2, _, v2 in _messages(body):
            fields[n2] = v2
        bos = fields.get(41, 1)
        if bos >= (1 << 63):
            bos -= 1 << 64
        if bos >= 0:
            out += raw
            continue
        pad = fields.get(43, (1 << 64) - 1)
        unk = fields.get(40, 0)
        new_bos = pad if pad < (1 << 63) else unk
        new_body = bytearray()
        for n2, raw2 in _raw_fields(body):
            if n2 != 41:
                new_body += raw2
        new_body += _field(41, 0) + _varint(new_bos)
        out += _len_field(2, bytes(new_body))
    return bytes(out)


def read_sentencepiece(data: bytes) -> dict:
    """Pieces, model type and normaliser flags of a SentencePiece ModelProto."""
    pieces, model_type, flags = [], 1, {"add_dummy_prefix": True, "remove_extra_whitespaces": True,
                                        "escape_whitespaces": True, "charsmap": False}
    for num, _, v in _messages(data):
        if num == 1:
            piece, score, typ = "", 0.0, 1
            for n2, _, v2 in _messages(v):
                if n2 == 1:
                    piece = v2.decode("utf-8")
                elif n2 == 2:
                    score = struct.unpack("<f", v2)[0]
                elif n2 == 3:
                    typ = v2
            pieces.append((piece, score, typ))
        elif num == 2:
            for n2, _, v2 in _messages(v):
                if n2 == 3:
                    model_type = v2
        elif num == 3:
            for n2, _, v2 in _messages(v):
                if n2 == 2 and v2:
                    flags["charsmap"] = True
                elif n2 == 3:
                    flags["add_dummy_prefix"] = bool(v2)
                elif n2 == 4:
                    flags["remove_extra_whitespaces"] = bool(v2)
                elif n2 == 5:
                    flags["escape_whitespaces"] = bool(v2)
    return {"pieces": pieces, "model_type": model_type, **flags}


class UnigramSentencePiece:
    """Viterbi segmentation with piece scores (normal pieces only; unknown characters -> unk id)."""

    def __init__(self, data: bytes):
        info = read_sentencepiece(data)
        if info["model_type"] != 1:
            raise ValueError("only unigram SentencePiece models are supported by this encoder")
        self.info = info
        self.pieces = {p: (i, s) for i, (p, s, t) in enumerate(info["pieces"]) if t == 1}
        self.unk = next(i for i, (_, _, t) in enumerate(info["pieces"]) if t == 2)
        self.max_len = max(len(p) for p in self.pieces)

    def encode(self, text: str) -> List[int]:
        if self.info["remove_extra_whitespaces"]:
            text = " ".join(text.split())
        if self.info["add_dummy_prefix"] and text:
            text = " " + text
        text = text.replace(" ", SPM_SPACE)
        n = len(text)
        best = [(-math.inf, -1, -1)] * (n + 1)   # score, start, id
        best[0] = (0.0, -1, -1)
        unk_score = min(s for _, s in self.pieces.values()) - 10.0
        for end in range(1, n + 1):
            for start in range(max(0, end - self.max_len), end):
                if best[start][0] == -math.inf:
                    continue
                piece = text[start:end]
                if piece in self.pieces:
                    pid, sc = self.pieces[piece]
                elif end - start == 1:
                    pid, sc = self.unk, unk_score
                else:
                    continue
                cand = best[start][0] + sc
                if cand > best[end][0]:
                    best[end] = (cand, start, pid)
        ids, end = [], n
        while end > 0:
            _, start, pid = best[end]
            ids.append(pid)
            end = start
        ids.reverse()
        merged: List[int] = []
        for i in ids:     # consecutive unknowns collapse into one, as SentencePiece does
            if not (i == self.unk and merged and merged[-1] == self.unk):
                merged.append(i)
        return merged


# ------------------------------------------------------------------------------------------------
# Tiny tokenizers in upstream formats
# ------------------------------------------------------------------------------------------------
TINY_WORDS = ["a", "an", "the", "one", "two", "red", "green", "blue", "yellow", "black", "white", "big", "small",
              "circle", "square", "triangle", "star", "cat", "dog", "on", "in", "of", "and", "with", "above",
              "below", "left", "right", "image", "photo", "Generate", "according", "to", "following", "prompt",
              "masterpiece", "film", "grained", "best", "quality", "lowres", "bad", "anatomy"]


def prefix_chain_merges(words: Iterable[str]) -> List[Tuple[str, str]]:
    """Merges that assemble each word left to right (every prefix becomes a token)."""
    seen, merges = set(), []
    for w in words:
        for i in range(2, len(w) + 1):
            pair = (w[:i - 1], w[i - 1])
            if w[:i] not in seen:
                seen.add(w[:i])
                merges.append(pair)
    return merges


def tiny_byte_level_bpe(words: Sequence[str], specials: Sequence[str], pre_tokenizer: dict,
                        first_special_id: Optional[int] = None, added_extra: Optional[Dict[str, int]] = None,
                        leading: Sequence[str] = (), leading_special: Sequence[str] = ()) -> dict:
    """A Hugging Face tokenizer.json (byte-level BPE) with the 256 byte symbols, prefix-chain merges
    for ``words`` (with and without a leading space) and the given added special tokens.

    ``leading`` tokens take the first vocabulary ids (Chameleon puts its specials and image tokens
    there); those also in ``leading_special`` are listed as added special tokens too."""
    b2u = bytes_to_unicode()
    vocab: Dict[str, int] = {}
    for t in leading:
        vocab[t] = len(vocab)
    for b in range(256):
        vocab[b2u[b]] = len(vocab)
    forms = []
    for w in words:
        for form in (w, " " + w):
            forms.append("".join(b2u[b] for b in form.encode("utf-8")))
    merges = prefix_chain_merges(forms)
    for a, b in merges:
        if a + b not in vocab:
            vocab[a + b] = len(vocab)
    nid = first_special_id if first_special_id is not None else len(vocab)
    added = [{"id": vocab[t], "content": t, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for t in leading_special]
    for s in specials:
        added.append({"id": nid, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
                      "normalized": False, "special": True})
        nid += 1
    for s, i in (added_extra or {}).items():
        added.append({"id": i, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
                      "normalized": False, "special": True})
    return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added, "normalizer": None,
            "pre_tokenizer": pre_tokenizer, "post_processor": None, "decoder": {"type": "ByteLevel"},
            "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                      "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                      "vocab": vocab, "merges": [f"{a} {b}" for a, b in merges]}}


def tiny_tiktoken(words: Sequence[str]) -> Tuple[str, Dict[bytes, int]]:
    """A .tiktoken file (base64 token, rank) with the 256 bytes and prefix chains of ``words``."""
    ranks: Dict[bytes, int] = {bytes([b]): b for b in range(256)}
    for w in words:
        for form in (w, " " + w):
            data = form.encode("utf-8")
            for i in range(2, len(data) + 1):
                if data[:i] not in ranks:
                    ranks[data[:i]] = len(ranks)
    text = "".join(f"{base64.b64encode(t).decode('ascii')} {r}\n" for t, r in sorted(ranks.items(), key=lambda kv: kv[1]))
    return text, ranks


def tiny_unigram_pieces(words: Sequence[str]) -> List[Tuple[str, float, int]]:
    """T5-like piece list: <pad> 0, </s> 1, <unk> 2, whole words with a '▁' prefix, then single
    characters (lower scores) so that any ASCII word can be spelled."""
    pieces: List[Tuple[str, float, int]] = [("<pad>", 0.0, 3), ("</s>", 0.0, 3), ("<unk>", 0.0, 2)]
    seen = set()
    for i, w in enumerate(words):
        p = SPM_SPACE + w.lower()
        if p not in seen:
            seen.add(p)
            pieces.append((p, -2.0 - 0.01 * i, 1))
    chars = sorted({c for w in words for c in w.lower()} | set("abcdefghijklmnopqrstuvwxyz0123456789,.")) + [SPM_SPACE]
    for c in chars:
        if c not in seen:
            seen.add(c)
            pieces.append((c, -8.0, 1))
    return pieces
