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
    # The note family's (lib/model/config.ts): head units, step vector width, look-back, copy ids and the output's skip
    # connection from the main stack (headSkip); None when absent.
    head_units: Optional[int] = None
    step_units: Optional[int] = None
    lookback: Optional[bool] = None
    copy: Optional[bool] = None
    head_skip: Optional[bool] = None

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
        for key, value in (
            ("headUnits", self.head_units),
            ("stepUnits", self.step_units),
            ("lookback", self.lookback),
            ("copy", self.copy),
            ("headSkip", self.head_skip),
        ):
            if value is not None:
                out[key] = value
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

        def opt_int(key: str) -> Optional[int]:
            return None if j.get(key) is None else int(num(key, 1, 4096, True))

        def opt_bool(key: str) -> Optional[bool]:
            v = j.get(key)
            if v is not None and not isinstance(v, bool):
                raise UserError(f"{source}: model.{key} must be true or false (got {v!r})")
            return v

        lookback, copy = opt_bool("lookback"), opt_bool("copy")
        if copy is True and lookback is False:
            raise UserError(f"{source}: model.copy needs the look-back (it copies the look-back notes): lookback is false")
        return ModelConfig(
            vocab_size=num("vocabSize", 2, 100_000, True),
            embedding_dim=num("embeddingDim", 1, 4096, True),
            units=num("units", 1, 4096, True),
            layers=num("layers", 1, 8, True),
            dropout=num("dropout", 0, 0.999999, False),
            recurrent_dropout=num("recurrentDropout", 0, 0.999999, False),
            seed=num("seed", 0, 2**31 - 1, True),
            family=family,
            head_units=opt_int("headUnits"),
            step_units=opt_int("stepUnits"),
            lookback=lookback,
            copy=copy,
            head_skip=opt_bool("headSkip"),
        )
