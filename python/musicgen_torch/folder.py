"""Reading and writing musicgen's model folder (lib/store/folder.ts, save.ts, load.ts).

model.json (a tfjs layers model: topology + weightsManifest) with its weights-<stamp>.bin, vocab.json,
config.json (lib/store/run-config.ts) and history.json. Every file is written atomically, the new weights
file first and model.json last, so a crash never pairs model.json with half-written weights.
"""
import json
import os
import time
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np
import torch

from . import UserError
from .config import ModelConfig
from .family import FamilyModel
from .model import build
from .token_family import TokenLSTM, probabilities

RUN_CONFIG_FORMAT = "musicgen-model/1"


def _read_json(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise UserError(f"{path} not found") from None
    except json.JSONDecodeError as e:
        raise UserError(f"{path}: not valid JSON ({e})") from None


def _write_atomic(path: str, data: bytes) -> None:
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def vocab_tokens(path: str) -> List[str]:
    """The token list of a vocab.json (to check that data and model share a vocabulary)."""
    j = _read_json(path)
    tokens = j.get("tokens") if isinstance(j, dict) else None
    if not isinstance(tokens, list):
        raise UserError(f"{path}: tokens must be an array (is this a musicgen vocab.json?)")
    return [str(t) for t in tokens]


def read_model_folder(folder: str) -> Tuple[FamilyModel, Dict[str, Any]]:
    """A model folder as a PyTorch model, and its config.json; one-line errors naming the file."""
    if not os.path.isdir(folder):
        raise UserError(f"model folder {folder} not found")
    config_path = os.path.join(folder, "config.json")
    run = _read_json(config_path)
    if not isinstance(run, dict) or run.get("format") != RUN_CONFIG_FORMAT:
        raise UserError(f'{config_path}: format must be "{RUN_CONFIG_FORMAT}" (is this a musicgen config.json?)')
    config = ModelConfig.from_json(run.get("model"), config_path)
    vocab = vocab_tokens(os.path.join(folder, "vocab.json"))
    if len(vocab) != config.vocab_size:
        raise UserError(f"model folder {folder}: vocab.json has {len(vocab)} tokens but config.json says vocabSize {config.vocab_size}")
    model_path = os.path.join(folder, "model.json")
    mj = _read_json(model_path)
    groups = mj.get("weightsManifest") if isinstance(mj, dict) else None
    if not isinstance(groups, list) or not groups:
        raise UserError(f"{model_path}: weightsManifest must be a non-empty array (is this a tfjs layers model?)")
    specs: List[Dict[str, Any]] = []
    data = bytearray()
    for g in groups:
        for p in g.get("paths", []):
            path = os.path.join(folder, os.path.normpath(p))
            if not os.path.isfile(path):
                raise UserError(f"model folder {folder} is incomplete: cannot read weights {p}")
            with open(path, "rb") as f:
                data += f.read()
        specs += g.get("weights", [])
    sizes = [int(np.prod(s.get("shape", []))) for s in specs]
    if any(s.get("dtype") != "float32" for s in specs):
        raise UserError(f"{model_path}: every weight must be float32")
    if sum(sizes) * 4 != len(data):
        raise UserError(f"{model_path}: the weights files hold {len(data)} bytes, the manifest expects {sum(sizes) * 4}")
    flat = np.frombuffer(bytes(data), dtype="<f4")
    arrays, at = [], 0
    for spec, size in zip(specs, sizes):
        arrays.append(flat[at : at + size].reshape(spec["shape"]))
        at += size
    model = build(config)
    try:
        model.from_keras(arrays)
    except UserError as e:
        raise UserError(f"{model_path}: {e}") from None
    return model, run


def write_model_folder(
    folder: str, model: FamilyModel, vocab_file: str, run_config: Dict[str, Any], history: Sequence[Dict[str, Any]]
) -> None:
    """Writes (or updates) a model folder: vocab.json, config.json, the weights, model.json last, history.json."""
    os.makedirs(folder, exist_ok=True)
    with open(vocab_file, "rb") as f:
        _write_atomic(os.path.join(folder, "vocab.json"), f.read())
    _write_atomic(os.path.join(folder, "config.json"), (json.dumps(run_config, indent=2) + "\n").encode())
    write_weights(folder, model)
    write_history(folder, history)


def write_history(folder: str, history: Sequence[Dict[str, Any]]) -> None:
    """history.json alone (after an epoch that did not improve: the weights stay the best epoch's)."""
    _write_atomic(os.path.join(folder, "history.json"), (json.dumps(list(history), indent=1) + "\n").encode())


def write_weights(folder: str, model: FamilyModel) -> None:
    """A new weights-<stamp>.bin, then model.json pointing at it, then older weights files removed (lib/store/save.ts saveWeights)."""
    arrays = model.to_keras()
    stamp = f"{np.base_repr(int(time.time() * 1000), 36).lower()}{np.base_repr(os.getpid(), 36).lower()}"
    weights_file = f"weights-{stamp}.bin"
    _write_atomic(os.path.join(folder, weights_file), b"".join(a.astype("<f4").tobytes() for a in arrays))
    specs = [{"name": n, "shape": list(a.shape), "dtype": "float32"} for n, a in zip(model.weight_names(), arrays)]
    model_json = {
        "format": "layers-model",
        "generatedBy": f"musicgen_torch (PyTorch {torch.__version__})",
        "convertedBy": None,
        "modelTopology": model.topology(),
        "weightsManifest": [{"paths": [f"./{weights_file}"], "weights": specs}],
    }
    _write_atomic(os.path.join(folder, "model.json"), (json.dumps(model_json) + "\n").encode())
    for name in os.listdir(folder):
        if name.startswith("weights-") and name.endswith(".bin") and name != weights_file:
            os.remove(os.path.join(folder, name))


def check_output_folder(folder: str, replace: bool) -> None:
    """Refuses to write over a model folder unless asked (as `musicgen train` does without --replace)."""
    if os.path.exists(os.path.join(folder, "model.json")) and not replace:
        raise UserError(f"{folder} already holds a model: choose another --out, or pass --replace to overwrite it")
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise UserError(f"--out {folder} is a file, not a folder")


def random_model_folder(config: ModelConfig, vocab_file: str, out: str, ids: Sequence[int]) -> np.ndarray:
    """Writes a model folder of random weights, both PyTorch biases included, and returns the in-memory model's probabilities for `ids`.

    The parity test's PyTorch side: exporting loses nothing only if tfjs then gives these same probabilities.
    """
    model = TokenLSTM(config)
    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(-1.0, 1.0)
    run = {
        "format": "musicgen-model/1", "model": config.to_json(),
        "dataset": {"seqLen": 64, "stride": 32, "valFraction": 0.1, "seed": 1234},
        "training": {"epochs": 1, "batchSize": 32, "learningRate": 0.002, "lrDecay": 0.5, "clipNorm": 5, "patience": 3, "seed": 1234,
                     "checkpointEverySec": 0, "maxValWindows": 2048, "threads": 1, "transposeRange": 0, "maxMinutes": 0, "carryState": False},
        "backend": f"pytorch {torch.__version__} (random weights)",
        "data": {"folders": [], "trainFiles": 0, "valFiles": 0, "trainTokens": 0},
    }  # fmt: skip
    probs = probabilities(model, ids)
    write_model_folder(out, model, vocab_file, run, [])
    return probs
