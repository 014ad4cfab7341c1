"""`python3 -m musicgen_torch bench`: training throughput on synthetic batches (scripts/bench-ddp.ts runs it).

The token family trains on random ids. The note family (`--family note`) trains on random steps whose
lengths follow a step profile: how many steps of the data hold 1 to 8 code ids (the head's targets when the
step is a window's next step), and how many of those hold a note (a dur token or a copy id; the rest are bars,
the start and split tempo ramps). The default profile is piano-midi's, prepared with copy ids (843,529 steps,
794,251 of them notes, 3.33 ids a step); scripts/bench.ts passes the profile of the remi data it measures on.

Counted over the measured batches and all processes: tokensPerSec, the target ids (every input token of the
token family; the next steps' code ids of the note family, as TypeScript's batchTokenCount counts them);
for the note family also stepsPerSec (steps trained: windows × seq-len) and notesPerSec (steps trained whose
next step holds a note).
"""
import json
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from . import UserError
from .config import ModelConfig
from .data import rank_rows
from .family import FamilyModel, dropout_masks
from .model import build
from .note_data import COPY_BACKS, LOOKBACK_FLAGS, LOOKBACK_SLOTS, STEP_RECORD, STEP_SLOTS, records_batch
from .rng import derive_seed
from .train import Dist, clip_, say, start_process_group

# piano-midi's steps (prepare --family note, copy ids), by their number of code ids 1..8, and those that hold a note.
PIANO_STEP_LENGTHS = (421, 183_774, 316_584, 241_551, 89_566, 8_659, 2_517, 457)
PIANO_NOTE_STEPS = (84, 137_208, 316_584, 239_409, 89_566, 8_546, 2_517, 337)


@dataclass(frozen=True)
class Shape:
    """The model and batch shapes: the token family's, and the note family's head, step vector, skip and copy ids."""

    vocab_size: int
    units: int
    layers: int
    embedding_dim: int
    batch_size: int
    seq_len: int
    family: str = "token"
    head_units: int = 128
    step_units: Optional[int] = None
    head_skip: bool = True
    copy: bool = True


@dataclass(frozen=True)
class StepProfile:
    """Steps by their number of code ids (1..8), and how many of them hold a note."""

    lengths: Tuple[int, ...] = PIANO_STEP_LENGTHS
    notes: Tuple[int, ...] = PIANO_NOTE_STEPS

    @staticmethod
    def parse(lengths: Optional[str], notes: Optional[str]) -> "StepProfile":
        """From --step-lengths and --note-steps (8 comma-separated counts each; both or neither)."""
        if lengths is None and notes is None:
            return StepProfile()
        if lengths is None or notes is None:
            raise UserError("--step-lengths and --note-steps go together (8 counts each)")
        out: List[Tuple[int, ...]] = []
        for flag, text in (("--step-lengths", lengths), ("--note-steps", notes)):
            try:
                counts = tuple(int(x) for x in text.split(","))
            except ValueError:
                raise UserError(f"{flag} must be 8 comma-separated whole numbers (got {text!r})") from None
            if len(counts) != STEP_SLOTS or min(counts) < 0:
                raise UserError(f"{flag} must be 8 comma-separated whole numbers ≥ 0 (got {text!r})")
            out.append(counts)
        if sum(out[0]) == 0 or any(n > c for n, c in zip(out[1], out[0])):
            raise UserError("--step-lengths must count some steps, and --note-steps at most as many of each length")
        return StepProfile(out[0], out[1])


def _random_steps(p: StepProfile, code: int, vocab: int, rows: int, count: int, g: torch.Generator) -> Tuple[np.ndarray, np.ndarray]:
    """`rows` × `count` step records of random ids with lengths drawn from the profile, and whether each holds a note."""
    lengths = torch.multinomial(torch.tensor(p.lengths, dtype=torch.float64), rows * count, replacement=True, generator=g) + 1
    note_share = torch.tensor([n / max(1, c) for n, c in zip(p.notes, p.lengths)], dtype=torch.float64)
    is_note = torch.rand(rows * count, generator=g, dtype=torch.float64) < note_share[lengths - 1]
    slot = torch.arange(STEP_SLOTS)
    recs = np.zeros(rows * count, STEP_RECORD)
    ids = torch.randint(0, code, (rows * count, STEP_SLOTS), generator=g)
    recs["group"] = torch.where(slot[None, :] < lengths[:, None], ids, torch.full_like(ids, code)).numpy()
    back = torch.randint(0, vocab + 1, (rows * count, LOOKBACK_SLOTS), generator=g)  # vocab: the pad id (no such note)
    recs["lookback"] = torch.where(back == vocab, torch.full_like(back, code), back).numpy()
    recs["length"] = lengths.numpy()
    recs["flags"] = (torch.rand(rows * count, LOOKBACK_FLAGS, generator=g) < 0.5).numpy()
    return recs.reshape(rows, count), is_note.numpy().reshape(rows, count)


def _note_step(
    net: nn.Module, model: FamilyModel, shape: Shape, p: StepProfile, rows: int, step: int, g: torch.Generator, d: Dist
) -> Tuple[float, float]:
    """One training step on random steps; its target ids and the steps trained whose next step holds a note."""
    code = shape.vocab_size + (COPY_BACKS if shape.copy else 0)
    recs, is_note = _random_steps(p, code, shape.vocab_size, rows, shape.seq_len + 1, g)
    b = {k: torch.from_numpy(v).to(d.device) for k, v in records_batch(recs, code + 1, code).items()}
    masks = _masks(model, rows, step, d)
    loss_sum = -net(b["group"], b["flags"], b["prefix"], b["targets"], masks).sum()
    targets = int(recs["length"][:, 1:].sum())
    (loss_sum / max(1, targets * d.world)).backward()
    return float(targets), float(is_note[:, 1:].sum())


def _masks(model: FamilyModel, rows: int, step: int, d: Dist) -> Optional[List[Tensor]]:
    drawn = dropout_masks(model, [derive_seed(step, k) for k in range(rows)], 0.1)
    return [m.to(d.device) for m in drawn] if drawn is not None else None


def _model(shape: Shape) -> FamilyModel:
    if shape.family == "note":
        from .note_family import NoteModel

        return NoteModel(
            ModelConfig(
                shape.vocab_size, shape.embedding_dim, shape.units, shape.layers, 0.1, 0.0, 42, family="note",
                head_units=shape.head_units, step_units=shape.step_units or shape.units, lookback=True, copy=shape.copy,
                head_skip=shape.head_skip,
            )
        )  # fmt: skip
    return build(ModelConfig(shape.vocab_size, shape.embedding_dim, shape.units, shape.layers, 0.1, 0.0, 42))


def bench(shape: Shape, batches: int, threads: int, profile: StepProfile = StepProfile()) -> Dict[str, Any]:
    """Training throughput over all processes of `batches` steps on synthetic batches of these shapes, after one warm-up step."""
    d = start_process_group(threads)
    model = _model(shape)
    model.to(d.device)
    net: nn.Module = DistributedDataParallel(model) if dist.is_initialized() else model
    optimizer = torch.optim.Adam(model.parameters(), lr=0.002, eps=1e-7)
    g = torch.Generator().manual_seed(7 + d.rank)
    rows = len(rank_rows(shape.batch_size, d.rank, d.world))
    t0, counted = 0.0, [0.0, 0.0]
    for step in range(batches + 1):
        if step == 1:
            if dist.is_initialized():
                dist.barrier()
            t0 = time.time()
        if shape.family == "note":
            targets, notes = _note_step(net, model, shape, profile, rows, step, g, d)
        else:
            ids = torch.randint(0, shape.vocab_size, (rows, shape.seq_len + 1), generator=g)
            logits = net(ids[:, :-1].to(d.device), _masks(model, rows, step, d))
            loss = F.cross_entropy(logits.reshape(-1, shape.vocab_size), ids[:, 1:].reshape(-1).to(d.device)) / d.world
            loss.backward()
            targets, notes = float(rows * shape.seq_len), 0.0
        if step >= 1:
            counted = [counted[0] + targets, counted[1] + notes]
        clip_(list(model.parameters()), 5.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    if dist.is_initialized():
        dist.barrier()
    seconds = time.time() - t0
    total = torch.tensor(counted, dtype=torch.float64)
    if dist.is_initialized():
        dist.all_reduce(total)
    out: Dict[str, Any] = {
        "family": shape.family,
        "processes": d.world,
        "threadsPerProcess": torch.get_num_threads(),
        "batches": batches,
        "seconds": seconds,
        "tokensPerSec": float(total[0]) / seconds,
        "params": sum(int(a.size) for a in model.to_keras()),  # tfjs's count (one LSTM bias, not PyTorch's two)
    }
    if shape.family == "note":
        steps = batches * shape.batch_size * shape.seq_len
        out.update(stepsPerSec=steps / seconds, notesPerSec=float(total[1]) / seconds, notesPerStep=float(total[1]) / steps)
    say(d, json.dumps(out))
    if dist.is_initialized():
        dist.destroy_process_group()
    return out
