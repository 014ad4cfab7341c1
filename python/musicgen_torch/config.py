"""The model's hyperparameters: config.json's `model` (lib/model/config.ts), checked as the TypeScript side checks them."""
from dataclasses import dataclass
from typing import Any, Dict, Optional

from . import UserError


@dataclass(frozen=True)
class ModelConfig:
    """config.json's `model` (lib/model/config.ts ModelConfig)."""

    vocab_size: int
    embedding_dim: int = 64
    units: int = 256
    layers: int = 2
    dropout: float = 0.1
    recurrent_dropout: float = 0.0
    seed: int = 42
    family: Optional[str] = None

    def to_json(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {
            "vocabSize": self.vocab_size,
            "embeddingDim": self.embedding_dim,
            "units": self.units,
            "layers": self.layers,
            "dropout": self.dropout,
            "recurrentDropout": self.recurrent_dropout,
            "seed": self.seed,
        }
        if self.family is not None:
            out["family"] = self.family
        return out

    @staticmethod
    def from_json(j: Any, source: str) -> "ModelConfig":
        """Reads config.json's `model`, checked field by field as lib/model/config.ts does; one-line errors."""
        if not isinstance(j, dict):
            raise UserError(f"{source}: model must be an object")

        def num(key: str, lo: float, hi: float, integer: bool) -> Any:
            v = j.get(key)
            ok = isinstance(v, (int, float)) and not isinstance(v, bool) and lo <= v <= hi and (not integer or float(v).is_integer())
            if not ok:
                raise UserError(f"{source}: model.{key} must be {'an integer' if integer else 'a number'} in [{lo}, {hi}] (got {v!r})")
            return int(v) if integer else float(v)

        family = j.get("family")
        if family not in (None, "token", "note"):
            raise UserError(f'{source}: model.family must be "token" or "note" (got {family!r})')
        return ModelConfig(
            vocab_size=num("vocabSize", 2, 100_000, True),
            embedding_dim=num("embeddingDim", 1, 4096, True),
            units=num("units", 1, 4096, True),
            layers=num("layers", 1, 8, True),
            dropout=num("dropout", 0, 0.999999, False),
            recurrent_dropout=num("recurrentDropout", 0, 0.999999, False),
            seed=num("seed", 0, 2**31 - 1, True),
            family=family,
        )
