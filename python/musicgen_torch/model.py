"""The family registry: which module builds a model of each family (the hyperparameters are in config.py).

One module per model family: token_family.py mirrors the `token` family of lib/model/network.ts (both
shipped models). Another family (lib/model/note-*.ts) would be a module beside it, registered in FAMILIES.
"""
from torch import nn

from . import UserError
from .config import ModelConfig
from .token_family import TokenLSTM


def build(config: ModelConfig) -> nn.Module:
    """A fresh model of the config's family, with seeded initial weights."""
    family = config.family or "token"
    if family not in FAMILIES:
        raise UserError(f'model family "{family}" is not available in PyTorch yet (only: {", ".join(FAMILIES)})')
    return FAMILIES[family](config)


def _token(config: ModelConfig) -> nn.Module:
    return TokenLSTM(config)


FAMILIES = {"token": _token}
