"""A prepared folder (`musicgen prepare`): manifest.json, vocab.json and shards of token ids, read by memmap.

Windows and their order mirror lib/data/dataset.ts and lib/train/batching.ts: windows of `seq_len` inputs,
each with its next-token target, `stride` apart with the last one aligned to the piece's end; an epoch's
order is the Fisher-Yates shuffle of lib/core/rng.ts seeded by (seed, epoch); validation windows do not
overlap (stride = seq_len) and are capped at `max_val_windows` by a seeded choice. Only the window index is
held in memory (16 bytes a window); the ids stay in the shards until a batch reads them.
"""
import json
import os
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Sequence, Tuple, Union

import numpy as np

from . import UserError
from .rng import derive_seed, permutation

PREPARED_FORMAT = "musicgen-prepared/1"
_DTYPES = {"uint16": "<u2", "int32": "<i4"}


@dataclass(frozen=True)
class Piece:
    """One piece of the corpus: `length` ids at `offset` of shard number `shard`."""

    name: str
    shard: int
    offset: int
    length: int
    index: int = 0  # its place in the manifest's pieces


def field(source: str, obj: Any, key: str, kind: Union[type, Tuple[type, ...]]) -> Any:
    """obj[key], checked to be of `kind` (never a bool for a number); a one-line UserError naming `source` and `key`."""
    value = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(value, kind) or isinstance(value, bool):
        names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise UserError(f"{source}: {key} must be {_KIND_NAMES.get(names, names)} (got {json.dumps(value)})")
    return value


_KIND_NAMES = {"int": "an integer", "int or float": "a number", "str": "a string", "list": "an array", "dict": "an object"}


class PreparedCorpus:
    """The pieces of a prepared folder, split into train and validation by the manifest."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        source = os.path.join(folder, "manifest.json")
        self.manifest_file = source
        if not os.path.isdir(folder):
            raise UserError(f"prepared folder {folder} not found")
        try:
            with open(source, encoding="utf-8") as f:
                manifest = json.load(f)
        except FileNotFoundError:
            raise UserError(f"{source} not found: is {folder} a folder written by `musicgen prepare`?") from None
        except json.JSONDecodeError as e:
            raise UserError(f"{source}: not valid JSON ({e})") from None
        if not isinstance(manifest, dict) or manifest.get("format") != PREPARED_FORMAT:
            raise UserError(f'{source}: format must be "{PREPARED_FORMAT}" (is this a prepared folder?)')
        self.manifest: Dict[str, Any] = manifest
        dtype = manifest.get("dtype")
        if dtype not in _DTYPES:
            raise UserError(f'{source}: dtype must be "uint16" or "int32" (got {json.dumps(dtype)})')
        self.vocab_size: int = field(source, manifest, "vocabSize", int)
        split = field(source, manifest, "split", dict)
        self.val_fraction = float(field(source, split, "valFraction", (int, float)))
        self.split_seed: int = field(source, split, "seed", int)
        self.shards: List[np.ndarray] = []  # np.memmap (an ndarray), or an empty array for an empty shard
        for i, s in enumerate(field(source, manifest, "shards", list)):
            where = f"{source}: shards[{i}]"
            file = field(where, s, "file", str)
            tokens = field(where, s, "tokens", int)
            path = os.path.join(folder, os.path.basename(file))
            if not os.path.isfile(path):
                raise UserError(f"{where}: {path} not found (copy every shard-*.bin with the manifest)")
            size = os.path.getsize(path)
            width = np.dtype(_DTYPES[dtype]).itemsize
            if size != tokens * width:
                raise UserError(f"{path}: {size} bytes, but {source} says {tokens} tokens of {width} bytes (damaged or partly copied?)")
            self.shards.append(
                np.memmap(path, dtype=_DTYPES[dtype], mode="r", shape=(tokens,)) if tokens > 0 else np.zeros(0, _DTYPES[dtype])
            )
        self.train: List[Piece] = []
        self.val: List[Piece] = []
        for i, p in enumerate(field(source, manifest, "pieces", list)):
            where = f"{source}: pieces[{i}]"
            piece = Piece(
                field(where, p, "name", str),
                field(where, p, "shard", int),
                field(where, p, "offset", int),
                field(where, p, "length", int),
                i,
            )
            if not 0 <= piece.shard < len(self.shards):
                raise UserError(f"{where}: shard {piece.shard} is not one of the {len(self.shards)} shards")
            if piece.offset < 0 or piece.length < 0 or piece.offset + piece.length > len(self.shards[piece.shard]):
                raise UserError(f"{where}: offset {piece.offset} + length {piece.length} is beyond shard {piece.shard}")
            side = p.get("split")
            if side not in ("train", "val"):
                raise UserError(f'{where}: split must be "train" or "val" (got {json.dumps(side)})')
            (self.train if side == "train" else self.val).append(piece)
        self.vocab_file = os.path.join(folder, "vocab.json")
        if not os.path.isfile(self.vocab_file):
            raise UserError(f"{self.vocab_file} not found (copy it with the shards)")

    def ids(self, piece: Piece, start: int, count: int) -> np.ndarray:
        """`count` ids of a piece from `start`, as int64, checked against the vocabulary."""
        out = np.asarray(self.shards[piece.shard][piece.offset + start : piece.offset + start + count], dtype=np.int64)
        if out.size and (out.max() >= self.vocab_size or out.min() < 0):
            raise UserError(f"shard {piece.shard} of {self.folder}: piece {piece.name} holds ids outside [0, {self.vocab_size})")
        return out

    def tokens(self, pieces: Sequence[Piece]) -> int:
        return sum(p.length for p in pieces)


def windows_over(lengths: Sequence[int], seq_len: int, stride: int) -> np.ndarray:
    """(piece, start) of each window, [n, 2] int64 (lib/data/dataset.ts windowsOver): the last one aligned to the piece's end."""
    parts: List[np.ndarray] = []
    for piece, length in enumerate(lengths):
        last = length - seq_len - 1
        if last < 0:
            continue
        starts = np.arange(0, last + 1, stride, dtype=np.int64)
        if starts[-1] < last:
            starts = np.append(starts, last)
        parts.append(np.stack([np.full(len(starts), piece, dtype=np.int64), starts], axis=1))
    return np.concatenate(parts) if parts else np.zeros((0, 2), dtype=np.int64)


def limit_windows(index: np.ndarray, limit: int, seed: int) -> np.ndarray:
    """At most `limit` windows (0 = all), the seeded choice of lib/train/batching.ts limitWindows."""
    if limit <= 0 or len(index) <= limit:
        return index
    return index[permutation(len(index), seed ^ 0x5EED)[:limit]]


def epoch_order(index: np.ndarray, seed: int, epoch: int) -> np.ndarray:
    """The windows of an epoch in the order `musicgen train` takes them (lib/data/dataset.ts batches)."""
    return index[permutation(len(index), derive_seed(seed, epoch))]


def rank_rows(global_rows: int, rank: int, world: int) -> List[int]:
    """The rows of a global batch that a rank computes: every world-th one from its rank, as DistributedSampler deals them."""
    return list(range(rank, global_rows, world))


def batch_ids(corpus: PreparedCorpus, pieces: Sequence[Piece], refs: np.ndarray, seq_len: int) -> Tuple[np.ndarray, np.ndarray]:
    """Inputs and next-token targets [len(refs), seq_len] of some windows ([n, 2] (piece, start) rows)."""
    if len(refs) == 0:
        return np.zeros((0, seq_len), np.int64), np.zeros((0, seq_len), np.int64)
    rows = np.stack([corpus.ids(pieces[int(p)], int(s), seq_len + 1) for p, s in refs])
    return rows[:, :-1], rows[:, 1:]


def global_batches(order: np.ndarray, batch_size: int) -> Iterator[np.ndarray]:
    """The global batches of an epoch (the last may be smaller)."""
    for b in range(0, len(order), batch_size):
        yield order[b : b + batch_size]
