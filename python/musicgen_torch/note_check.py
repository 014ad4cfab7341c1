"""The note family's parity check (tests/torch-note.test.ts): a model folder's log-probabilities on a window of prepared steps.

TypeScript computes the same window from the same piece with lib/model/note-forward.ts; the two must agree
within 1e-4. With `write_random`, the model first gets random weights (both PyTorch biases too) and is
written as a model folder, so that the check also runs the other way: PyTorch writes, tfjs reads.
"""
import json
import os
from typing import List, Optional

import numpy as np
import torch

from . import UserError
from .data import PreparedCorpus
from .folder import read_model_folder, write_model_folder
from .note_data import STEP_SLOTS, PreparedSteps, note_batch
from .note_family import NoteModel


def note_logp(
    model_dir: str, data: str, piece: int, start: int, steps: int, write_random: Optional[str], seed: int
) -> List[List[Optional[float]]]:
    """ln p of each target of the window (`steps` steps of piece number `piece` from step `start`), [T][8], None where no target."""
    model, run = read_model_folder(model_dir)
    if not isinstance(model, NoteModel):
        raise UserError(f"--model {model_dir} is not a note model (config.json's model.family)")
    corpus = PreparedCorpus(data)
    prepared = PreparedSteps(corpus)
    if (prepared.lookback, prepared.copy) != (model.config.lookback is not False, model.config.copy is True):
        raise UserError(f"--data {data} was prepared with other step options than --model {model_dir} reads")
    pieces = [*corpus.train, *corpus.val]
    chosen = [p for p in pieces if p.index == piece]
    if not chosen or start < 0 or start + steps + 1 > prepared.count(chosen[0]):
        raise UserError(f"--piece {piece} --start {start} --steps {steps}: no such window in {data}")
    if write_random is not None:
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(torch.rand(p.shape, generator=g) - 0.5)
        run = {**run, "backend": f"pytorch {torch.__version__} (random weights)"}
        write_model_folder(write_random, model, os.path.join(model_dir, "vocab.json"), run, [])
    batch = note_batch(prepared, chosen, np.array([[0, start]]), steps)
    model.eval()
    with torch.no_grad():
        t = {k: torch.from_numpy(v) for k, v in batch.items()}
        logp = model(t["group"], t["flags"], t["prefix"], t["targets"]).double().numpy()
    out: List[List[Optional[float]]] = []
    at = 0
    for row in batch["targets"][0]:
        out.append([None] * STEP_SLOTS)
        for j in range(STEP_SLOTS):
            if row[j] >= 0:
                out[-1][j] = float(logp[at])
                at += 1
    return out
