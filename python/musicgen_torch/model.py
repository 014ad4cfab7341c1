"""The family registry: which module builds a model of each family (the hyperparameters are in config.py).

One module per model family: token_family.py mirrors the `token` family of lib/model/network.ts (both
shipped models), note_family.py the `note` family of lib/model/note-network.ts. Each model is a
family.FamilyModel, so the model folder and the trainer treat them alike.
"""
from typing import Callable, Dict

from . import UserError
from .config import ModelConfig
from .family import FamilyModel
from .note_family import NoteModel
from .token_family import TokenLSTM


def build(config: ModelConfig) -> FamilyModel:
    """A fresh model of the config's family, with seeded initial weights."""
    family = config.family or "token"
    if family not in FAMILIES:
        raise UserError(f'model family "{family}" is not available in PyTorch yet (only: {", ".join(FAMILIES)})')
    return FAMILIES[family](config)


FAMILIES: Dict[str, Callable[[ModelConfig], FamilyModel]] = {"token": TokenLSTM, "note": NoteModel}
