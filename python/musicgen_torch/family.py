"""What every model family provides to the trainer and the model folder: the base classes of a model and of its batches.

A family (token_family.py, note_family.py) has a model, an nn.Module that also converts its weights to and
from the tfjs layers model of its TypeScript twin (names, shapes and order of the weights, and model.json's
topology), and a Batches class that cuts the prepared pieces into windows and scores them.
"""
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from .config import ModelConfig


class FamilyModel(nn.Module):
    """A model of one family, convertible to and from the tfjs layers model musicgen saves."""

    config: ModelConfig

    def weight_names(self) -> List[str]:
        """The tfjs weight names, in the layers model's order."""
        raise NotImplementedError

    def to_keras(self) -> List[np.ndarray]:
        """The weights as tfjs arrays (float32), in weight_names order."""
        raise NotImplementedError

    def from_keras(self, arrays: Sequence[np.ndarray]) -> None:
        """Sets the weights from tfjs arrays in weight_names order (a UserError when a shape differs)."""
        raise NotImplementedError

    def topology(self) -> Dict[str, Any]:
        """model.json's modelTopology, as tfjs saves the TypeScript model of this config."""
        raise NotImplementedError

    def input_widths(self) -> List[int]:
        """Each main LSTM layer's input width (the sizes of its dropout masks)."""
        raise NotImplementedError


class Batches:
    """A family's windows over one split of a prepared folder: their lengths, their targets, and their summed loss."""

    def lengths(self) -> List[int]:
        """Per piece, the units windows are counted in (tokens, or steps)."""
        raise NotImplementedError

    def targets(self, refs: np.ndarray) -> int:
        """Scored targets in the windows `refs` ([n, 2] (piece, start) rows)."""
        raise NotImplementedError

    def loss_sum(
        self, net: nn.Module, model: FamilyModel, refs: np.ndarray, seeds: Optional[Sequence[int]], device: torch.device
    ) -> Tensor:
        """The summed negative log-likelihood of the windows' targets, through `net` (the model, or DDP around it).

        `seeds` (one per window) draw each window's dropout masks (none: no dropout, as in validation).
        """
        raise NotImplementedError


def dropout_masks(model: FamilyModel, seeds: Sequence[int], rate: float) -> Optional[List[Tensor]]:
    """Each main layer's input dropout masks [B, in] for rows whose own seeds are `seeds` (None without dropout).

    A row's masks depend on its seed alone, not on which process or batch share computes it, so a run on
    N processes draws the same masks as on one.
    """
    if rate <= 0 or not seeds:
        return None
    keep = 1.0 - rate
    widths = model.input_widths()
    rows: List[List[Tensor]] = []
    for seed in seeds:
        g = torch.Generator().manual_seed(seed)
        rows.append([(torch.rand(w, generator=g) < keep).float() / keep for w in widths])
    return [torch.stack([r[l] for r in rows]) for l in range(len(widths))]
