"""Data-parallel training with torch.nn.parallel.DistributedDataParallel, mirroring lib/train/loop.ts.

Each process takes its rows of every global batch (data.rank_rows); DDP averages the gradients, which are
scaled so that the average is the gradient of the mean loss over the whole global batch. So N processes
compute the same steps as one process with the same --batch-size, up to float rounding; dropout masks are
drawn per window (token_family.dropout_masks), not per process. Then, as in lib/train/loop.ts: Adam
(epsilon 1e-7, tfjs's) with the gradients' global norm clipped, validation loss per epoch, the learning
rate multiplied by --lr-decay after an epoch without a better validation loss, early stopping after
--patience such epochs, and the best model written to the model folder by rank 0.
"""
import json
import math
import os
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
from .data import PreparedCorpus, batch_ids, epoch_order, global_batches, limit_windows, rank_rows, windows_over
from .folder import check_output_folder, read_model_folder, vocab_tokens, write_history, write_model_folder
from .config import ModelConfig
from .model import build
from .rng import derive_seed
from .token_family import TokenLSTM, dropout_masks


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


def _model_for(s: TrainSettings, corpus: PreparedCorpus) -> Tuple[TokenLSTM, Optional[Dict[str, Any]]]:
    """The model to train: read from --init-from (its vocabulary must be the data's), or fresh."""
    if s.init_from is None:
        config = ModelConfig(corpus.vocab_size, s.embedding_dim, s.units, s.layers, s.dropout, 0.0, s.model_seed)
        model = build(config)
        assert isinstance(model, TokenLSTM)
        return model, None
    model, run = read_model_folder(s.init_from)
    if vocab_tokens(os.path.join(s.init_from, "vocab.json")) != vocab_tokens(corpus.vocab_file):
        raise UserError(
            f"--init-from {s.init_from}: its vocab.json differs from {corpus.vocab_file} (prepare the data with the model's tokenizer settings)"
        )
    if model.config.recurrent_dropout > 0:
        raise UserError(f"--init-from {s.init_from}: recurrentDropout > 0 is not implemented in the PyTorch trainer")
    return model, run


def _clip_(params: List[nn.Parameter], clip_norm: float) -> None:
    """Scales the gradients down when their global norm exceeds clip_norm (lib/train/loop.ts applyClipped)."""
    if clip_norm <= 0:
        return
    norm = math.sqrt(sum(float(p.grad.double().pow(2).sum()) for p in params if p.grad is not None))
    if norm > clip_norm:
        for p in params:
            if p.grad is not None:
                p.grad.mul_(clip_norm / norm)


def train_step(
    net: nn.Module, model: TokenLSTM, corpus: PreparedCorpus, refs: np.ndarray, seq_len: int, batch_seed: int, d: Dist
) -> Tensor:
    """Backward pass of this rank's rows of a global batch; returns its summed loss. The gradient left is its share of the batch mean's."""
    rows = rank_rows(len(refs), d.rank, d.world)
    mine = refs[rows] if rows else refs[:1]
    inputs, targets = batch_ids(corpus, corpus.train, mine, seq_len)
    masks = dropout_masks(model, [derive_seed(batch_seed, k) for k in rows], model.config.dropout) if rows else None
    if masks is not None:
        masks = [m.to(d.device) for m in masks]
    logits = net(torch.from_numpy(inputs).to(d.device), masks)
    loss_sum = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), torch.from_numpy(targets).reshape(-1).to(d.device), reduction="sum")
    if not rows:
        loss_sum = loss_sum * 0.0  # a rank with no row this batch still joins DDP's all-reduce, with zero gradients
    # DDP averages over the ranks: times world / (global tokens) makes that average the global mean's gradient.
    (loss_sum * (d.world / (len(refs) * seq_len))).backward()
    return loss_sum.detach()


def validate(model: TokenLSTM, corpus: PreparedCorpus, index: np.ndarray, s: TrainSettings, d: Dist) -> float:
    """Mean loss per token over the validation windows (no dropout), each rank scoring its share."""
    model.eval()
    total, count = 0.0, 0.0
    mine = index[rank_rows(len(index), d.rank, d.world)]
    with torch.no_grad():
        for refs in global_batches(mine, s.batch_size):
            inputs, targets = batch_ids(corpus, corpus.val, refs, s.seq_len)
            logits = model(torch.from_numpy(inputs).to(d.device))
            total += float(
                F.cross_entropy(logits.reshape(-1, logits.shape[-1]), torch.from_numpy(targets).reshape(-1).to(d.device), reduction="sum")
            )
            count += targets.size
    model.train()
    total, count = _all_sum([total, count], d)
    return total / max(1.0, count)


def run_config(s: TrainSettings, model: TokenLSTM, corpus: PreparedCorpus, d: Dist) -> Dict[str, Any]:
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


def _say(d: Dist, line: str) -> None:
    if d.leader:
        print(line, flush=True)


def train(s: TrainSettings) -> Dict[str, Any]:
    """Trains on the prepared folder `s.data` and writes the best model to `s.out` (rank 0); returns the summary rank 0 prints."""
    corpus = PreparedCorpus(s.data)
    model, _ = _model_for(s, corpus)
    index = windows_over([p.length for p in corpus.train], s.seq_len, s.stride)
    if len(index) == 0:
        longest = max((p.length for p in corpus.train), default=0)
        raise UserError(
            f"--seq-len {s.seq_len} is too long: the longest training piece of {s.data} has {longest} tokens (need seq-len + 1)"
        )
    val_index = limit_windows(windows_over([p.length for p in corpus.val], s.seq_len, s.seq_len), s.max_val_windows, s.seed)
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
    train_sec, tokens_done, out_of_time, stopped_early = 0.0, 0, False, False
    per_epoch = math.ceil(len(index) / s.batch_size)
    _say(
        d,
        f"training on {len(index)} windows of {s.seq_len} tokens ({len(corpus.train)} pieces; {len(val_index)} validation windows), {per_epoch} batches of {s.batch_size} per epoch, {d.world} process(es)",
    )
    for epoch in range(s.epochs):
        t_epoch = time.time()
        loss_sum, batches = 0.0, 0
        for b, refs in enumerate(global_batches(epoch_order(index, s.seed, epoch), s.batch_size)):
            t0 = time.time()
            mine = train_step(net, model, corpus, refs, s.seq_len, derive_seed(s.seed, epoch * 1_000_003 + b), d)
            _clip_(params, s.clip_norm)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            (total,) = _all_sum([float(mine)], d)
            loss = total / (len(refs) * s.seq_len)
            if not math.isfinite(loss):
                raise UserError(f"training diverged (loss {loss}) at epoch {epoch + 1}, batch {b + 1}: lower the learning rate")
            train_sec += time.time() - t0
            tokens_done += len(refs) * s.seq_len
            loss_sum += loss
            batches += 1
            if time.time() - last_note >= PROGRESS_EVERY_SEC and batches < per_epoch:
                last_note = time.time()
                rate = tokens_done / max(1e-3, train_sec)
                eta = (per_epoch - batches) * s.batch_size * s.seq_len / rate
                _say(
                    d,
                    f"  epoch {epoch + 1}, batch {batches}/{per_epoch}: loss {loss_sum / batches:.4f}, {rate:.0f} tokens/s, {eta / 60:.1f} min left in the epoch",
                )
            if s.max_minutes > 0:
                (late,) = _all_sum([1.0 if time.time() - started >= s.max_minutes * 60 else 0.0], d)
                if late > 0:
                    out_of_time = True
                    break
        train_loss = loss_sum / batches
        val_loss = validate(model, corpus, val_index, s, d) if len(val_index) > 0 else train_loss
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
        _say(
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
        "stoppedEarly": stopped_early, "outOfTime": out_of_time,
    }  # fmt: skip
    _say(d, f"saved {s.out} (best validation loss {best:.4f} nats/token) in {summary['seconds']:.1f} s")
    if s.as_json:
        _say(d, json.dumps(summary))
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
    return summary


def bench(
    vocab_size: int, units: int, layers: int, embedding_dim: int, batch_size: int, seq_len: int, batches: int, threads: int
) -> Dict[str, Any]:
    """Training throughput (tokens/s over all processes) of `batches` steps on random ids of these shapes, after one warm-up step."""
    d = start_process_group(threads)
    model = build(ModelConfig(vocab_size, embedding_dim, units, layers, 0.1, 0.0, 42))
    assert isinstance(model, TokenLSTM)
    model.to(d.device)
    net: nn.Module = DistributedDataParallel(model) if dist.is_initialized() else model
    optimizer = torch.optim.Adam(model.parameters(), lr=0.002, eps=1e-7)
    g = torch.Generator().manual_seed(7 + d.rank)
    rows = len(rank_rows(batch_size, d.rank, d.world))
    t0 = 0.0
    for step in range(batches + 1):
        if step == 1:
            if dist.is_initialized():
                dist.barrier()
            t0 = time.time()
        ids = torch.randint(0, vocab_size, (rows, seq_len + 1), generator=g)
        drawn = dropout_masks(model, [derive_seed(step, k) for k in range(rows)], 0.1)
        masks = [m.to(d.device) for m in drawn] if drawn is not None else None
        logits = net(ids[:, :-1].to(d.device), masks)
        loss = F.cross_entropy(logits.reshape(-1, vocab_size), ids[:, 1:].reshape(-1).to(d.device)) / d.world
        loss.backward()
        _clip_(list(model.parameters()), 5.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    if dist.is_initialized():
        dist.barrier()
    seconds = time.time() - t0
    out = {
        "processes": d.world,
        "threadsPerProcess": torch.get_num_threads(),
        "batches": batches,
        "seconds": seconds,
        "tokensPerSec": batches * batch_size * seq_len / seconds,
    }
    _say(d, json.dumps(out))
    if dist.is_initialized():
        dist.destroy_process_group()
    return out
