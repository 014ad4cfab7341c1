"""The `token` model family of lib/model/network.ts in PyTorch, and its conversion to and from tfjs.

embedding → N stacked LSTM layers → dense softmax over the vocabulary, stepping once per token. Dropout is
the training kernel's (lib/train/bptt.ts): one mask per row and layer on the layer's input, the same at
every step of the window. Recurrent dropout is not implemented here (both shipped models use none).

Layouts. tfjs (Keras) keeps one LSTM layer as kernel [in, 4H], recurrent_kernel [H, 4H] and one bias [4H],
gate blocks in the order i, f, c, o. PyTorch keeps weight_ih [4H, in], weight_hh [4H, H] and two biases
b_ih, b_hh [4H], gate blocks in the order i, f, g, o (g is Keras's c). So a kernel is transposed, each
gate block is moved to its place in the other order, and the two PyTorch biases add up to the Keras one.
"""
from typing import Any, Dict, List, Optional, Sequence, Tuple, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import UserError
from .config import ModelConfig
from .data import Piece, PreparedCorpus, batch_ids
from .family import Batches, FamilyModel, dropout_masks

# Gate blocks in each framework's order; KERAS_GATES[i] is the same gate as TORCH_GATES[i] ("c" = "g", the cell input).
KERAS_GATES = ("i", "f", "c", "o")
TORCH_GATES = ("i", "f", "g", "o")
_SAME = {"i": "i", "f": "f", "c": "g", "o": "o"}


class TokenLSTM(FamilyModel):
    """embedding → `layers` LSTMs → linear; forward gives logits (softmax is applied by the caller)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        torch.manual_seed(config.seed)
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_dim)
        self.lstm = nn.ModuleList(
            nn.LSTM(config.embedding_dim if l == 0 else config.units, config.units, batch_first=True) for l in range(config.layers)
        )
        self.output = nn.Linear(config.units, config.vocab_size)
        self._init_like_tfjs()

    def _init_like_tfjs(self) -> None:
        """The initializers of lib/model/network.ts: uniform ±0.05 embedding, Glorot-uniform kernels, zero biases but 1 on the forget gate."""
        with torch.no_grad():
            nn.init.uniform_(self.embedding.weight, -0.05, 0.05)
            for layer in self.lstm:
                init_lstm_like_tfjs(layer)
            nn.init.xavier_uniform_(self.output.weight)
            self.output.bias.zero_()

    def forward(self, ids: Tensor, masks: Optional[Sequence[Optional[Tensor]]] = None) -> Tensor:
        """Logits [B, T, V] for ids [B, T]; `masks[l]` [B, in] scales layer l's input at every step (dropout)."""
        x = self.embedding(ids)
        for l, layer in enumerate(self.lstm):
            mask = masks[l] if masks is not None else None
            if mask is not None:
                x = x * mask[:, None, :]
            x, _ = layer(x)
        return self.output(x)

    def input_widths(self) -> List[int]:
        """Each LSTM layer's input width (the sizes of its dropout masks)."""
        return [self.config.embedding_dim if l == 0 else self.config.units for l in range(self.config.layers)]

    def weight_names(self) -> List[str]:
        return weight_names(self.config)

    def to_keras(self) -> List[np.ndarray]:
        return to_keras(self)

    def from_keras(self, arrays: Sequence[np.ndarray]) -> None:
        from_keras(self, arrays)

    def topology(self) -> Dict[str, Any]:
        return topology(self.config)


class TokenBatches(Batches):
    """The token family's windows (lib/data/dataset.ts): `seq_len` ids of a piece, each with the next id as its target."""

    def __init__(self, corpus: PreparedCorpus, pieces: Sequence[Piece], seq_len: int) -> None:
        self.corpus, self.pieces, self.seq_len = corpus, pieces, seq_len

    def lengths(self) -> List[int]:
        return [p.length for p in self.pieces]

    def targets(self, refs: np.ndarray) -> int:
        return len(refs) * self.seq_len

    def loss_sum(
        self, net: nn.Module, model: FamilyModel, refs: np.ndarray, seeds: Optional[Sequence[int]], device: torch.device
    ) -> Tensor:
        inputs, targets = batch_ids(self.corpus, self.pieces, refs, self.seq_len)
        drawn = dropout_masks(model, seeds, model.config.dropout) if seeds is not None else None
        masks = [m.to(device) for m in drawn] if drawn is not None else None
        logits = net(torch.from_numpy(inputs).to(device), masks)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), torch.from_numpy(targets).reshape(-1).to(device), reduction="sum")


def lstm_params(layer: nn.Module) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """A one-layer nn.LSTM's weight_ih [4H, in], weight_hh [4H, H], bias_ih and bias_hh [4H]."""
    names = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
    w_ih, w_hh, b_ih, b_hh = (cast(Tensor, getattr(layer, n)) for n in names)
    return w_ih, w_hh, b_ih, b_hh


def reorder_gates(blocks4: np.ndarray, src: Sequence[str], dst: Sequence[str], axis: int) -> np.ndarray:
    """Moves the 4 gate blocks along `axis` from order `src` to order `dst` (gates named in either framework)."""
    canon = [_SAME.get(g, g) for g in src]
    parts = np.split(blocks4, 4, axis=axis)
    return np.concatenate([parts[canon.index(_SAME.get(g, g))] for g in dst], axis=axis)


def init_lstm_like_tfjs(layer: nn.Module) -> None:
    """A one-layer nn.LSTM initialized as tfjs's LSTM layers are: Glorot-uniform kernels, zero biases but 1 on the forget gate (unitForgetBias). Call under no_grad."""
    w_ih, w_hh, b_ih, b_hh = lstm_params(layer)
    nn.init.xavier_uniform_(w_ih)
    nn.init.xavier_uniform_(w_hh)
    n = w_hh.shape[1]
    b_ih.zero_()
    b_ih[n : 2 * n] = 1.0
    b_hh.zero_()


def lstm_to_keras(layer: nn.Module) -> List[np.ndarray]:
    """A one-layer nn.LSTM as Keras's kernel, recurrent kernel and bias (float32; its two biases summed)."""
    f = lambda t: t.detach().cpu().numpy().astype(np.float32)  # noqa: E731
    w_ih, w_hh, b_ih, b_hh = lstm_params(layer)
    return [
        reorder_gates(f(w_ih).T, TORCH_GATES, KERAS_GATES, axis=1),
        reorder_gates(f(w_hh).T, TORCH_GATES, KERAS_GATES, axis=1),
        reorder_gates(f(b_ih) + f(b_hh), TORCH_GATES, KERAS_GATES, axis=0),
    ]


def lstm_from_keras(layer: nn.Module, kernel: np.ndarray, recurrent: np.ndarray, bias: np.ndarray) -> None:
    """Sets a one-layer nn.LSTM from Keras's kernel, recurrent kernel and bias (the bias goes to b_ih, b_hh becomes 0). Call under no_grad."""
    t = lambda a: torch.from_numpy(np.array(a, dtype=np.float32))  # noqa: E731  (a writable copy)
    w_ih, w_hh, b_ih, b_hh = lstm_params(layer)
    w_ih.copy_(t(reorder_gates(kernel, KERAS_GATES, TORCH_GATES, axis=1).T))
    w_hh.copy_(t(reorder_gates(recurrent, KERAS_GATES, TORCH_GATES, axis=1).T))
    b_ih.copy_(t(reorder_gates(bias, KERAS_GATES, TORCH_GATES, axis=0)))
    b_hh.zero_()


def weight_names(config: ModelConfig) -> List[str]:
    """The tfjs weight names, in the layers model's order (what lib/model/network.ts saves)."""
    names = ["embedding/embeddings"]
    for l in range(config.layers):
        names += [f"lstm_{l + 1}/kernel", f"lstm_{l + 1}/recurrent_kernel", f"lstm_{l + 1}/bias"]
    return names + ["output/kernel", "output/bias"]


def weight_shapes(config: ModelConfig) -> List[Tuple[int, ...]]:
    """The tfjs weight shapes, in the same order."""
    c = config
    shapes: List[Tuple[int, ...]] = [(c.vocab_size, c.embedding_dim)]
    for l in range(c.layers):
        shapes += [(c.embedding_dim if l == 0 else c.units, 4 * c.units), (c.units, 4 * c.units), (4 * c.units,)]
    return shapes + [(c.units, c.vocab_size), (c.vocab_size,)]


def to_keras(model: TokenLSTM) -> List[np.ndarray]:
    """The model's weights as tfjs arrays (float32), in weight_names order."""
    f = lambda t: t.detach().cpu().numpy().astype(np.float32)  # noqa: E731
    out = [f(model.embedding.weight)]
    for layer in model.lstm:
        out += lstm_to_keras(layer)
    return out + [np.ascontiguousarray(f(model.output.weight).T), f(model.output.bias)]


def from_keras(model: TokenLSTM, arrays: Sequence[np.ndarray]) -> None:
    """Sets the model's weights from tfjs arrays in weight_names order (the bias goes to b_ih, b_hh becomes 0)."""
    expect = weight_shapes(model.config)
    if len(arrays) != len(expect):
        raise UserError(f"the weights hold {len(arrays)} arrays, a token model of this config has {len(expect)}")
    for i, (a, shape) in enumerate(zip(arrays, expect)):
        if tuple(a.shape) != shape:
            raise UserError(f"weight {i} has shape {list(a.shape)}, config.json's model expects {list(shape)}")
    t = lambda a: torch.from_numpy(np.array(a, dtype=np.float32))  # noqa: E731  (a writable copy)
    with torch.no_grad():
        model.embedding.weight.copy_(t(arrays[0]))
        for l, layer in enumerate(model.lstm):
            lstm_from_keras(layer, *arrays[1 + 3 * l : 4 + 3 * l])
        model.output.weight.copy_(t(arrays[-2].T))
        model.output.bias.copy_(t(arrays[-1]))


def _glorot(seed: int) -> Dict[str, object]:
    return {"class_name": "VarianceScaling", "config": {"scale": 1, "mode": "fan_avg", "distribution": "uniform", "seed": seed}}


def _lstm_layer(config: ModelConfig, l: int) -> Dict[str, object]:
    s = config.seed
    return {
        "class_name": "LSTM",
        "config": {
            "name": f"lstm_{l + 1}", "trainable": True, "units": config.units, "activation": "tanh",
            "recurrent_activation": "sigmoid", "use_bias": True, "kernel_initializer": _glorot(s + 1 + 2 * l),
            "recurrent_initializer": _glorot(s + 2 + 2 * l), "bias_initializer": {"class_name": "Zeros", "config": {}},
            "unit_forget_bias": True, "kernel_regularizer": None, "recurrent_regularizer": None, "bias_regularizer": None,
            "activity_regularizer": None, "kernel_constraint": None, "recurrent_constraint": None, "bias_constraint": None,
            "dropout": config.dropout, "recurrent_dropout": config.recurrent_dropout, "implementation": None,
            "return_sequences": True, "return_state": False, "go_backwards": False, "stateful": False, "unroll": False,
        },
    }  # fmt: skip


def topology(config: ModelConfig) -> Dict[str, object]:
    """model.json's modelTopology: the Sequential model lib/model/network.ts buildModel defines, as tfjs 4.22 serializes it."""
    embedding = {
        "class_name": "Embedding",
        "config": {
            "input_dim": config.vocab_size, "output_dim": config.embedding_dim,
            "embeddings_initializer": {"class_name": "RandomUniform", "config": {"minval": -0.05, "maxval": 0.05, "seed": config.seed}},
            "embeddings_regularizer": None, "activity_regularizer": None, "embeddings_constraint": None, "mask_zero": None,
            "input_length": None, "name": "embedding", "trainable": True, "batch_input_shape": [None, None], "dtype": "float32",
        },
    }  # fmt: skip
    output = {
        "class_name": "Dense",
        "config": {
            "units": config.vocab_size, "activation": "softmax", "use_bias": True, "kernel_initializer": _glorot(config.seed + 100),
            "bias_initializer": {"class_name": "Zeros", "config": {}}, "kernel_regularizer": None, "bias_regularizer": None,
            "activity_regularizer": None, "kernel_constraint": None, "bias_constraint": None, "name": "output", "trainable": True,
        },
    }  # fmt: skip
    layers = [embedding, *(_lstm_layer(config, l) for l in range(config.layers)), output]
    return {
        "class_name": "Sequential",
        "config": {"name": "music_lstm", "layers": layers},
        "keras_version": "tfjs-layers 4.22.0",
        "backend": "tensor_flow.js",
    }


def probabilities(model: TokenLSTM, ids: Sequence[int]) -> np.ndarray:
    """Next-token probabilities [T, V] after each prefix of `ids`, from zero state, without dropout."""
    model.eval()
    with torch.no_grad():
        logits = model(torch.tensor([list(ids)], dtype=torch.long))
        return torch.softmax(logits.double(), dim=-1)[0].numpy()
