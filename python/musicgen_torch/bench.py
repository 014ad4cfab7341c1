"""`python3 -m musicgen_torch bench`: training throughput of the token family on random ids (scripts/bench-ddp.ts runs it)."""
import json
import time
from typing import Any, Dict

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from .config import ModelConfig
from .data import rank_rows
from .family import dropout_masks
from .model import build
from .rng import derive_seed
from .train import clip_, say, start_process_group


def bench(
    vocab_size: int, units: int, layers: int, embedding_dim: int, batch_size: int, seq_len: int, batches: int, threads: int
) -> Dict[str, Any]:
    """Training throughput (tokens/s over all processes) of `batches` steps on random ids of these shapes, after one warm-up step."""
    d = start_process_group(threads)
    model = build(ModelConfig(vocab_size, embedding_dim, units, layers, 0.1, 0.0, 42))
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
        clip_(list(model.parameters()), 5.0)
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
    say(d, json.dumps(out))
    if dist.is_initialized():
        dist.destroy_process_group()
    return out
