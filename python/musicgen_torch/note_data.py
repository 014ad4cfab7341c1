"""The note family's steps in a prepared folder (`musicgen prepare --family note`, lib/data/prepare-steps.ts), read by memmap.

Each token shard shard-NNNN.bin has a step shard steps-NNNN.bin of 32-byte records, one per step, as
lib/tokens/steps.ts toSteps cut the pieces (this package never cuts them itself): the step's group of 8
code ids, its 6 look-back ids, its length and its 2 look-back flags. Batches mirror lib/data/note-dataset.ts
noteBatch: for step s of a window, its group and look-back as the input slots and its flags; the next step's
codes as the head's targets (-1 where there is none), its prefix the start id then those codes but the last.
"""
import os
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

from . import UserError
from .data import Piece, PreparedCorpus, field

STEP_SLOTS = 8
LOOKBACK_SLOTS = 6
LOOKBACK_FLAGS = 2
INPUT_SLOTS = STEP_SLOTS + LOOKBACK_SLOTS
COPY_BACKS = 2
STEP_RECORD = np.dtype(
    [
        ("group", "<u2", (STEP_SLOTS,)),
        ("lookback", "<u2", (LOOKBACK_SLOTS,)),
        ("length", "u1"),
        ("flags", "u1", (LOOKBACK_FLAGS,)),
        ("unused", "u1"),
    ]
)
assert STEP_RECORD.itemsize == 32


class PreparedSteps:
    """The manifest's `steps` (checked field by field) and the step shards; `where(piece)` gives a piece's records."""

    def __init__(self, corpus: PreparedCorpus) -> None:
        source = corpus.manifest_file
        steps = corpus.manifest.get("steps")
        if steps is None:
            raise UserError(f"{source} has no steps: prepare the folder for the note family (`musicgen prepare --family note ...`)")
        where = f"{source}: steps"
        if not isinstance(steps, dict):
            raise UserError(f"{where} must be an object")
        self.lookback, self.copy = _flag(where, steps, "lookback"), _flag(where, steps, "copy")
        if self.copy and not self.lookback:
            raise UserError(f"{where}: copy is true but lookback is false (copy ids copy the look-back notes)")
        size = corpus.vocab_size + (COPY_BACKS if self.copy else 0)
        for key, want in (("codeSize", size), ("pad", size), ("start", size + 1), ("recordBytes", STEP_RECORD.itemsize)):
            if field(where, steps, key, int) != want:
                raise UserError(f"{where}.{key} must be {want} for {corpus.vocab_size} tokens (got {steps[key]})")
        self.code_size, self.pad, self.start = size, size, size + 1
        shards = field(where, steps, "shards", list)
        if len(shards) != len(corpus.shards):
            raise UserError(f"{where}.shards must list {len(corpus.shards)} step shards, one per token shard (got {len(shards)})")
        self.shards: List[np.ndarray] = []
        for i, s in enumerate(shards):
            file = field(f"{where}.shards[{i}]", s, "file", str)
            count = field(f"{where}.shards[{i}]", s, "steps", int)
            path = os.path.join(corpus.folder, os.path.basename(file))
            if not os.path.isfile(path):
                raise UserError(f"{where}.shards[{i}]: {path} not found (copy every steps-*.bin with the manifest)")
            if os.path.getsize(path) != count * STEP_RECORD.itemsize:
                raise UserError(
                    f"{path}: {os.path.getsize(path)} bytes, but {source} says {count} steps of 32 bytes (damaged or partly copied?)"
                )
            self.shards.append(np.memmap(path, dtype=STEP_RECORD, mode="r", shape=(count,)) if count > 0 else np.zeros(0, STEP_RECORD))
        self._spans: Dict[int, Tuple[int, int]] = {}
        for i, p in enumerate(corpus.manifest["pieces"]):
            at = f"{source}: pieces[{i}].steps"
            span = p.get("steps")
            offset, count = field(at, span, "offset", int), field(at, span, "count", int)
            shard = int(p["shard"])
            if offset < 0 or count < 0 or offset + count > len(self.shards[shard]):
                raise UserError(f"{at}: offset {offset} + count {count} is beyond step shard {shard}")
            self._spans[i] = (offset, count)

    def count(self, piece: Piece) -> int:
        """The piece's steps."""
        return self._spans[piece.index][1]

    def records(self, piece: Piece, start: int, count: int) -> np.ndarray:
        """`count` step records of a piece from step `start`, checked against the code ids."""
        offset = self._spans[piece.index][0]
        out = np.asarray(self.shards[piece.shard][offset + start : offset + start + count])
        if out.size and (
            int(out["group"].max()) > self.pad or int(out["lookback"].max()) > self.pad or int(out["length"].max()) > STEP_SLOTS
        ):
            raise UserError(f"steps of piece {piece.name}: ids beyond the pad id {self.pad} or groups longer than {STEP_SLOTS} (damaged?)")
        return out


def _flag(where: str, obj: Dict[str, Any], key: str) -> bool:
    value = obj.get(key)
    if not isinstance(value, bool):
        raise UserError(f"{where}.{key} must be true or false (got {value!r})")
    return value


def note_batch(steps: PreparedSteps, pieces: Sequence[Piece], refs: np.ndarray, seq_len: int) -> Dict[str, np.ndarray]:
    """The batch of windows `refs` ([n, 2] (piece, start) rows) as lib/data/note-dataset.ts noteBatch builds it.

    group [B, T, 14] int64, flags [B, T, 2] float32, prefix [B, T, 8] int64, targets [B, T, 8] int64 (-1: none).
    """
    B, T = len(refs), seq_len
    recs = np.stack([steps.records(pieces[int(p)], int(s), T + 1) for p, s in refs]) if B else np.zeros((0, T + 1), STEP_RECORD)
    return records_batch(recs, steps.start, steps.pad)


def records_batch(recs: np.ndarray, start: int, pad: int) -> Dict[str, np.ndarray]:
    """note_batch's arrays from the windows' step records [B, T + 1] (each window's steps and the step after them)."""
    B, T = recs.shape[0], recs.shape[1] - 1
    now, nxt = recs[:, :T], recs[:, 1:]
    group = np.concatenate([now["group"], now["lookback"]], axis=2).astype(np.int64)
    flags = now["flags"].astype(np.float32)
    slot = np.arange(STEP_SLOTS)
    length = nxt["length"].astype(np.int64)[..., None]
    codes = nxt["group"].astype(np.int64)
    targets = np.where(slot < length, codes, -1)
    shifted = np.concatenate([np.full((B, T, 1), start, np.int64), codes[..., :-1]], axis=2)
    prefix = np.where((slot == 0) | (slot <= length), shifted, pad)
    return {"group": group, "flags": flags, "prefix": prefix, "targets": targets}
