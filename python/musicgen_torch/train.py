"""Data-parallel training with torch.nn.parallel.DistributedDataParallel, mirroring lib/train/loop.ts.

Each process takes its rows of every global batch (data.rank_rows); DDP averages the gradients, which are
scaled so that the average is the gradient of the mean loss over the whole global batch. So N processes
compute the same steps as one process with the same --batch-size, up to float rounding; dropout masks are
drawn per window (family.dropout_masks), not per process. The family's Batches (token_family.py, note_family.py)
cut the windows and score them: per token, or per step with the note head's targets. Then, as in lib/train/loop.ts: Adam
(epsilon 1e-7, tfjs's) with the gradients' global norm clipped, validation loss per epoch, the learning
rate multiplied by --lr-decay after an epoch without a better validation loss, early stopping after
--patience such epochs, and the best model written to the model folder by rank 0.
"""
import json
import math
import os
import time
from dataclasses import dataclass, replace
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from . import UserError
from .data import Piece, PreparedCorpus, epoch_order, global_batches, limit_windows, rank_rows, windows_over
from .family import Batches, FamilyModel, dropout_masks
from .folder import check_output_folder, read_model_folder, vocab_tokens, write_history, write_model_folder
from .config import ModelConfig
from .model import build
from .note_data import PreparedSteps
from .note_family import NoteBatches
from .rng import derive_seed
from .token_family import TokenBatches


# Seconds between progress lines within an epoch (rank 0).
PROGRESS_EVERY_SEC = 60.0


@dataclass(frozen=True)
class TrainSettings:
    """A run's settings: config.json's `dataset` and `training` (lib/store/train-config.ts), and where to read and write."""

    data: str
    out: str
    init_from: Optional[str] = None
    replace: bool = False
    seq_len: int = 64
    stride: int = 32
    epochs: int = 20
    batch_size: int = 32
    learning_rate: float = 0.002
    lr_decay: float = 0.5
    clip_norm: float = 5.0
    patience: int = 3
    seed: int = 1234
    max_val_windows: int = 2048
    max_minutes: float = 0.0
    # A fresh model's sizes (ignored with init_from, whose config.json says them).
    embedding_dim: int = 64
    units: int = 256
    layers: int = 2
    dropout: float = 0.1
    model_seed: int = 42
    family: str = "token"
    head_units: Optional[int] = None
    head_skip: bool = True
    step_units: Optional[int] = None
    threads: int = 0
    as_json: bool = False


@dataclass(frozen=True)
class Dist:
    """This process's place in the run."""

    rank: int
    world: int
    device: torch.device

    @property
    def leader(self) -> bool:
        return self.rank == 0


def start_process_group(threads: int) -> Dist:
    """Joins the run described by RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT (launch.py sets them): NCCL on GPUs, gloo on CPU."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available() and os.environ.get("MUSICGEN_DEVICE", "") != "cpu"
    device = torch.device(f"cuda:{local}") if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    if threads > 0:
        torch.set_num_threads(threads)
    if "WORLD_SIZE" in os.environ:
        for key in ("MASTER_ADDR", "MASTER_PORT"):
            if key not in os.environ:
                raise UserError(f"{key} is not set: start the processes with `python3 -m musicgen_torch.launch`")
        dist.init_process_group("nccl" if cuda else "gloo", rank=rank, world_size=world)
    return Dist(rank, world, device)


def _all_sum(values: List[float], d: Dist) -> List[float]:
    t = torch.tensor(values, dtype=torch.float64, device=d.device)
    if d.world > 1:
        dist.all_reduce(t)
    return t.tolist()


def _model_for(s: TrainSettings, corpus: PreparedCorpus) -> Tuple[FamilyModel, Optional[Dict[str, Any]]]:
    """The model to train: read from --init-from (its vocabulary and, for a note model, its steps must be the data's), or fresh."""
    if s.init_from is None:
        config = ModelConfig(corpus.vocab_size, s.embedding_dim, s.units, s.layers, s.dropout, 0.0, s.model_seed)
        if s.family == "note":
            steps = PreparedSteps(corpus)
            head, width = s.head_units or 128, s.step_units or s.units
            config = replace(config, family="note", head_units=head, step_units=width, lookback=steps.lookback, copy=steps.copy)
            config = replace(config, head_skip=s.head_skip)
        return build(config), None
    model, run = read_model_folder(s.init_from)
    if (model.config.family or "token") != s.family:
        raise UserError(
            f"--init-from {s.init_from} is a {model.config.family or 'token'} model: give --family {model.config.family or 'token'}"
        )
    if s.family == "note":
        steps, c = PreparedSteps(corpus), model.config
        ours, theirs = (c.lookback is not False, c.copy is True), (steps.lookback, steps.copy)
        if ours != theirs:
            says = lambda o: f"lookback {str(o[0]).lower()} and copy {str(o[1]).lower()}"  # noqa: E731
            raise UserError(
                f"--init-from {s.init_from} reads steps with {says(ours)}, but {s.data} was prepared with {says(theirs)}"
                " (prepare it with the model's options: --no-copy, --no-lookback)"
            )
    if vocab_tokens(os.path.join(s.init_from, "vocab.json")) != vocab_tokens(corpus.vocab_file):
        raise UserError(
            f"--init-from {s.init_from}: its vocab.json differs from {corpus.vocab_file} (prepare the data with the model's tokenizer settings)"
        )
    if model.config.recurrent_dropout > 0:
        raise UserError(f"--init-from {s.init_from}: recurrentDropout > 0 is not implemented in the PyTorch trainer")
    return model, run


def clip_(params: List[nn.Parameter], clip_norm: float) -> None:
    """Scales the gradients down when their global norm exceeds clip_norm (lib/train/loop.ts applyClipped)."""
    if clip_norm <= 0:
        return
    norm = math.sqrt(sum(float(p.grad.double().pow(2).sum()) for p in params if p.grad is not None))
    if norm > clip_norm:
        for p in params:
            if p.grad is not None:
                p.grad.mul_(clip_norm / norm)


def family_batches(model: FamilyModel, corpus: PreparedCorpus, pieces: List[Piece], seq_len: int) -> Batches:
    """The windows of the model's family over some pieces of the corpus."""
    if (model.config.family or "token") == "note":
        return NoteBatches(PreparedSteps(corpus), pieces, seq_len)
    return TokenBatches(corpus, pieces, seq_len)


def train_step(net: nn.Module, model: FamilyModel, batches: Batches, refs: np.ndarray, batch_seed: int, d: Dist) -> Tuple[Tensor, int]:
    """Backward pass of this rank's rows of a global batch; returns its summed loss and the global batch's targets.

    The gradient left is this rank's share of the gradient of the global batch's mean loss per target.
    """
    rows = rank_rows(len(refs), d.rank, d.world)
    mine = refs[rows] if rows else refs[:1]
    seeds = [derive_seed(batch_seed, k) for k in rows] if rows else None
    loss_sum = batches.loss_sum(net, model, mine, seeds, d.device)
    if not rows:
        loss_sum = loss_sum * 0.0  # a rank with no row this batch still joins DDP's all-reduce, with zero gradients
    targets = batches.targets(refs)
    # DDP averages over the ranks: times world / (global targets) makes that average the global mean's gradient.
    (loss_sum * (d.world / max(1, targets))).backward()
    return loss_sum.detach(), targets


def validate(model: FamilyModel, batches: Batches, index: np.ndarray, s: TrainSettings, d: Dist) -> float:
    """Mean loss per target over the validation windows (no dropout), each rank scoring its share."""
    model.eval()
    total, count = 0.0, 0.0
    mine = index[rank_rows(len(index), d.rank, d.world)]
    with torch.no_grad():
        for refs in global_batches(mine, s.batch_size):
            total += float(batches.loss_sum(model, model, refs, None, d.device))
            count += batches.targets(refs)
    model.train()
    total, count = _all_sum([total, count], d)
    return total / max(1.0, count)


def run_config(s: TrainSettings, model: FamilyModel, corpus: PreparedCorpus, d: Dist) -> Dict[str, Any]:
    """config.json (lib/store/run-config.ts RunConfig), as lib/store/load.ts checks it."""
    backend = f"pytorch {torch.__version__} ddp {'nccl' if d.device.type == 'cuda' else 'gloo'} x{d.world}"
    out: Dict[str, Any] = {
        "format": "musicgen-model/1",
        "model": model.config.to_json(),
        "dataset": {"seqLen": s.seq_len, "stride": s.stride, "valFraction": corpus.val_fraction, "seed": corpus.split_seed},
        "training": {
            "epochs": s.epochs, "batchSize": s.batch_size, "learningRate": s.learning_rate, "lrDecay": s.lr_decay,
            "clipNorm": s.clip_norm, "patience": s.patience, "seed": s.seed, "checkpointEverySec": 0,
            "maxValWindows": s.max_val_windows, "threads": 1, "transposeRange": 0, "maxMinutes": s.max_minutes, "carryState": False,
        },
        "backend": backend,
        "data": {
            "folders": [corpus.folder], "trainFiles": len(corpus.train), "valFiles": len(corpus.val),
            "trainTokens": corpus.tokens(corpus.train),
        },
    }  # fmt: skip
    if s.init_from is not None:
        out["initFrom"] = s.init_from
    return out


def say(d: Dist, line: str) -> None:
    if d.leader:
        print(line, flush=True)


def train(s: TrainSettings) -> Dict[str, Any]:
    """Trains on the prepared folder `s.data` and writes the best model to `s.out` (rank 0); returns the summary rank 0 prints."""
    corpus = PreparedCorpus(s.data)
    model, _ = _model_for(s, corpus)
    train_batches, val_batches = (family_batches(model, corpus, pieces, s.seq_len) for pieces in (corpus.train, corpus.val))
    unit = "steps" if s.family == "note" else "tokens"
    index = windows_over(train_batches.lengths(), s.seq_len, s.stride)
    if len(index) == 0:
        longest = max(train_batches.lengths(), default=0)
        raise UserError(
            f"--seq-len {s.seq_len} is too long: the longest training piece of {s.data} has {longest} {unit} (need seq-len + 1)"
        )
    val_index = limit_windows(windows_over(val_batches.lengths(), s.seq_len, s.seq_len), s.max_val_windows, s.seed)
    notes_per_unit = sum(int(p.get("notes", 0)) for p in corpus.manifest["pieces"]) / max(
        1, sum(train_batches.lengths()) + sum(val_batches.lengths())
    )
    if int(os.environ.get("RANK", "0")) == 0:
        check_output_folder(s.out, s.replace)
    d = start_process_group(s.threads)
    model.to(d.device)
    net: nn.Module = DistributedDataParallel(model) if d.world > 1 or dist.is_initialized() else model
    params = list(model.parameters())
    optimizer = torch.optim.Adam(params, lr=s.learning_rate, eps=1e-7)
    config_json = run_config(s, model, corpus, d)
    history: List[Dict[str, Any]] = []
    best, bad, lr = math.inf, 0, s.learning_rate
    started = last_note = time.time()
    train_sec, tokens_done, units_done, out_of_time, stopped_early = 0.0, 0, 0, False, False
    per_epoch = math.ceil(len(index) / s.batch_size)
    say(
        d,
        f"training a {s.family} model on {len(index)} windows of {s.seq_len} {unit} ({len(corpus.train)} pieces; {len(val_index)} validation windows), {per_epoch} batches of {s.batch_size} per epoch, {d.world} process(es)",
    )
    for epoch in range(s.epochs):
        t_epoch = time.time()
        loss_sum, batches = 0.0, 0
        for b, refs in enumerate(global_batches(epoch_order(index, s.seed, epoch), s.batch_size)):
            t0 = time.time()
            mine, targets = train_step(net, model, train_batches, refs, derive_seed(s.seed, epoch * 1_000_003 + b), d)
            clip_(params, s.clip_norm)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            (total,) = _all_sum([float(mine)], d)
            loss = total / max(1, targets)
            if not math.isfinite(loss):
                raise UserError(f"training diverged (loss {loss}) at epoch {epoch + 1}, batch {b + 1}: lower the learning rate")
            train_sec += time.time() - t0
            tokens_done += targets
            units_done += len(refs) * s.seq_len
            loss_sum += loss
            batches += 1
            if time.time() - last_note >= PROGRESS_EVERY_SEC and batches < per_epoch:
                last_note = time.time()
                rate = tokens_done / max(1e-3, train_sec)
                eta = (per_epoch - batches) * s.batch_size * s.seq_len / (units_done / max(1e-3, train_sec))
                say(
                    d,
                    f"  epoch {epoch + 1}, batch {batches}/{per_epoch}: loss {loss_sum / batches:.4f}, {rate:.0f} tokens/s, {eta / 60:.1f} min left in the epoch",
                )
            if s.max_minutes > 0:
                (late,) = _all_sum([1.0 if time.time() - started >= s.max_minutes * 60 else 0.0], d)
                if late > 0:
                    out_of_time = True
                    break
        train_loss = loss_sum / batches
        val_loss = validate(model, val_batches, val_index, s, d) if len(val_index) > 0 else train_loss
        record = {
            "epoch": epoch + 1, "trainLoss": train_loss, "valLoss": val_loss, "valPerplexity": math.exp(val_loss),
            "seconds": time.time() - t_epoch, "tokensPerSec": tokens_done / max(1e-3, train_sec), "learningRate": lr,
        }  # fmt: skip
        history.append(record)
        improved = val_loss < best
        if improved:
            best, bad = val_loss, 0
            if d.leader:
                write_model_folder(s.out, model, corpus.vocab_file, config_json, history)
        else:
            bad += 1
            lr *= s.lr_decay
            for group in optimizer.param_groups:
                group["lr"] = lr
            if d.leader:
                write_history(s.out, history)
        say(
            d,
            f"epoch {epoch + 1}/{s.epochs}: train {train_loss:.4f}, val {val_loss:.4f} nats/token, {record['tokensPerSec']:.0f} tokens/s, {record['seconds']:.1f} s{' (best, saved)' if improved else ''}",
        )
        if out_of_time:
            break
        if s.patience > 0 and bad >= s.patience:
            stopped_early = True
            break
    summary = {
        "out": s.out, "processes": d.world, "backend": config_json["backend"], "epochs": len(history), "bestValLoss": best,
        "tokensPerSec": tokens_done / max(1e-3, train_sec), "seconds": time.time() - started,
        "notesPerSec": units_done * notes_per_unit / max(1e-3, train_sec),
        "stoppedEarly": stopped_early, "outOfTime": out_of_time,
    }  # fmt: skip
    say(d, f"saved {s.out} (best validation loss {best:.4f} nats/token) in {summary['seconds']:.1f} s")
    if s.as_json:
        say(d, json.dumps(summary))
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
    return summary
