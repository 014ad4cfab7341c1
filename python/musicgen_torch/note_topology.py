"""model.json's modelTopology for the note family: the functional tfjs model of lib/model/note-network.ts buildNoteNet.

Three inputs (group [T, 14] ids, flags [T, 2], prefix [T, 8] ids), the shared embedding applied to group and
prefix, step_slots (reshape) → step_in (dense) → step_input (concatenate with flags) → lstm_1..N →
head_repeat (time-distributed repeat ×8) → head_input (concatenate with the prefix's embeddings) → head
(time-distributed LSTM head_lstm) → output (dense softmax); with headSkip, output reads output_input, the head's output
concatenated with head_repeat's (the main stack's top output). As tfjs 4.22 serializes it; the parity test
(tests/torch-note.test.ts) compares this with what TypeScript saves.
"""
from typing import Any, Dict, List

from .config import ModelConfig
from .note_data import INPUT_SLOTS, LOOKBACK_FLAGS, STEP_SLOTS

DEFAULT_HEAD_UNITS = 128
"""lib/model/note-network.ts DEFAULT_HEAD_UNITS."""


def head_units(c: ModelConfig) -> int:
    """The head's units (lib/model/note-network.ts: headUnits, default 128)."""
    return c.head_units if c.head_units is not None else DEFAULT_HEAD_UNITS


def step_units(c: ModelConfig) -> int:
    """The step vector's width (lib/model/config.ts stepUnitsOf: stepUnits, else the embedding width)."""
    return c.step_units if c.step_units is not None else c.embedding_dim


def code_size(c: ModelConfig) -> int:
    """Ids the head chooses among (lib/model/config.ts noteCodeSize): the vocabulary, then 2 copy ids with copy."""
    return c.vocab_size + (2 if c.copy is True else 0)


def _glorot(seed: int) -> Dict[str, Any]:
    return {"class_name": "VarianceScaling", "config": {"scale": 1, "mode": "fan_avg", "distribution": "uniform", "seed": seed}}


_NO_EXTRAS = {
    "kernel_regularizer": None,
    "bias_regularizer": None,
    "activity_regularizer": None,
    "kernel_constraint": None,
    "bias_constraint": None,
}


def _lstm(name: str, units: int, seed: int, dropout: float, recurrent_dropout: float) -> Dict[str, Any]:
    return {
        "name": name, "trainable": True, "units": units, "activation": "tanh", "recurrent_activation": "sigmoid", "use_bias": True,
        "kernel_initializer": _glorot(seed), "recurrent_initializer": _glorot(seed + 1),
        "bias_initializer": {"class_name": "Zeros", "config": {}}, "unit_forget_bias": True, "kernel_regularizer": None,
        "recurrent_regularizer": None, "bias_regularizer": None, "activity_regularizer": None, "kernel_constraint": None,
        "recurrent_constraint": None, "bias_constraint": None, "dropout": dropout, "recurrent_dropout": recurrent_dropout,
        "implementation": None, "return_sequences": True, "return_state": False, "go_backwards": False, "stateful": False, "unroll": False,
    }  # fmt: skip


def _dense(name: str, units: int, seed: int, activation: str) -> Dict[str, Any]:
    return {
        "units": units, "activation": activation, "use_bias": True, "kernel_initializer": _glorot(seed),
        "bias_initializer": {"class_name": "Zeros", "config": {}}, **_NO_EXTRAS, "name": name, "trainable": True,
    }  # fmt: skip


def _node(name: str, class_name: str, config: Dict[str, Any], inbound: List[Any]) -> Dict[str, Any]:
    return {"name": name, "class_name": class_name, "config": config, "inbound_nodes": inbound}


def _input(name: str, width: int, dtype: str) -> Dict[str, Any]:
    return _node(name, "InputLayer", {"batch_input_shape": [None, None, width], "dtype": dtype, "sparse": False, "name": name}, [])


def note_topology(c: ModelConfig) -> Dict[str, Any]:
    """The modelTopology tfjs writes for buildNoteNet(c) (see the file comment)."""
    s, E, last = c.seed, c.embedding_dim, f"lstm_{c.layers}"
    embedding = {
        "input_dim": code_size(c) + 2, "output_dim": E,
        "embeddings_initializer": {"class_name": "RandomUniform", "config": {"minval": -0.05, "maxval": 0.05, "seed": s}},
        "embeddings_regularizer": None, "activity_regularizer": None, "embeddings_constraint": None, "mask_zero": None,
        "input_length": None, "name": "embedding", "trainable": True, "batch_input_shape": [None, None],
    }  # fmt: skip
    layers = [
        _input("group", INPUT_SLOTS, "int32"),
        _node("embedding", "Embedding", embedding, [[["group", 0, 0, {}]], [["prefix", 0, 0, {}]]]),
        _node(
            "step_slots",
            "Reshape",
            {"target_shape": [None, INPUT_SLOTS * E], "name": "step_slots", "trainable": True},
            [[["embedding", 0, 0, {}]]],
        ),
        _node("step_in", "Dense", _dense("step_in", step_units(c), s + 50, "linear"), [[["step_slots", 0, 0, {}]]]),
        _input("flags", LOOKBACK_FLAGS, "float32"),
        _node(
            "step_input",
            "Concatenate",
            {"axis": -1, "name": "step_input", "trainable": True},
            [[["step_in", 0, 0, {}], ["flags", 0, 0, {}]]],
        ),
    ]
    for l in range(c.layers):
        inbound = "step_input" if l == 0 else f"lstm_{l}"
        config = _lstm(f"lstm_{l + 1}", c.units, s + 1 + 2 * l, c.dropout, c.recurrent_dropout)
        layers.append(_node(f"lstm_{l + 1}", "LSTM", config, [[[inbound, 0, 0, {}]]]))
    repeat = {"class_name": "RepeatVector", "config": {"n": STEP_SLOTS, "name": "repeat_vector_RepeatVector1", "trainable": True}}
    head = {"class_name": "LSTM", "config": _lstm("head_lstm", head_units(c), s + 60, 0, 0)}
    layers += [
        _input("prefix", STEP_SLOTS, "int32"),
        _node("head_repeat", "TimeDistributed", {"layer": repeat, "name": "head_repeat", "trainable": True}, [[[last, 0, 0, {}]]]),
        _node(
            "head_input",
            "Concatenate",
            {"axis": -1, "name": "head_input", "trainable": True},
            [[["head_repeat", 0, 0, {}], ["embedding", 1, 0, {}]]],
        ),
        _node("head", "TimeDistributed", {"layer": head, "name": "head", "trainable": True}, [[["head_input", 0, 0, {}]]]),
    ]
    if c.head_skip is True:
        skip = {"axis": -1, "name": "output_input", "trainable": True}
        layers.append(_node("output_input", "Concatenate", skip, [[["head", 0, 0, {}], ["head_repeat", 0, 0, {}]]]))
    into = "output_input" if c.head_skip is True else "head"
    layers.append(_node("output", "Dense", _dense("output", code_size(c), s + 100, "softmax"), [[[into, 0, 0, {}]]]))  # fmt: skip
    return {
        "class_name": "Model",
        "config": {
            "name": "music_note_lstm",
            "layers": layers,
            "input_layers": [["group", 0, 0], ["flags", 0, 0], ["prefix", 0, 0]],
            "output_layers": [["output", 0, 0]],
        },
        "keras_version": "tfjs-layers 4.22.0",
        "backend": "tensor_flow.js",
    }
