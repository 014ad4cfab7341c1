"""The `note` model family of lib/model/note-network.ts in PyTorch, its conversion to and from tfjs, and its batches.

    step s's 8 code slots + 6 look-back slots ─ embedding ─ concatenated ─ step_in (dense) → x_s
    [x_s; look-back flags] → N stacked LSTMs → h_s
    head: an LSTM over the next step's slots j = 0..7 reading [h_s; embedding(prefix_j)] → output (dense) → log-softmax
          (with headSkip the output reads [head output; h_s])

as lib/model/note-forward.ts computes it in training: the loss is the summed NLL of the target slots (targets
-1 are not scored). The head runs over every slot up to the batch's longest next step (TypeScript packs the
rows instead; only target slots are scored either way). Dropout is the token family's: one mask per window
and main layer on the layer's input. The layouts are converted as in token_family.py (Keras i,f,c,o blocks,
one bias; PyTorch i,f,g,o, two biases); the head is an nn.LSTM whose weights the forward pass uses directly.
"""
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor, nn

from . import UserError
from .config import ModelConfig
from .data import Piece
from .family import Batches, FamilyModel, dropout_masks
from .note_data import INPUT_SLOTS, LOOKBACK_FLAGS, STEP_SLOTS, PreparedSteps, note_batch
from .note_topology import code_size, head_units, note_topology, step_units
from .token_family import init_lstm_like_tfjs, lstm_from_keras, lstm_params, lstm_to_keras


class NoteModel(FamilyModel):
    """The note family's layers; forward gives the log-probabilities of the target slots."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = c = config
        torch.manual_seed(c.seed)
        E, H, S = c.embedding_dim, c.units, step_units(c)
        self.embedding = nn.Embedding(code_size(c) + 2, E)
        self.step_in = nn.Linear(INPUT_SLOTS * E, S)
        self.lstm = nn.ModuleList(nn.LSTM(S + LOOKBACK_FLAGS if l == 0 else H, H, batch_first=True) for l in range(c.layers))
        self.head = nn.LSTM(H + E, head_units(c), batch_first=True)
        self.output = nn.Linear(head_units(c) + (H if c.head_skip is True else 0), code_size(c))
        self._init_like_tfjs()

    def _init_like_tfjs(self) -> None:
        """buildNoteNet's initializers: uniform ±0.05 embedding, Glorot-uniform kernels, zero biases but 1 on the forget gates."""
        with torch.no_grad():
            nn.init.uniform_(self.embedding.weight, -0.05, 0.05)
            for layer in [*self.lstm, self.head]:
                init_lstm_like_tfjs(layer)
            for dense in (self.step_in, self.output):
                nn.init.xavier_uniform_(dense.weight)
                dense.bias.zero_()

    def forward(self, group: Tensor, flags: Tensor, prefix: Tensor, targets: Tensor, masks: Optional[Sequence[Tensor]] = None) -> Tensor:
        """ln p of each target (targets ≥ 0) [M], in (row, step, slot) order; group [B, T, 14], flags [B, T, 2], prefix and targets [B, T, 8]."""
        B, T = group.shape[0], group.shape[1]
        N, E = B * T, self.config.embedding_dim
        x = torch.cat([self.step_in(self.embedding(group).reshape(B, T, INPUT_SLOTS * E)), flags], dim=-1)
        for l, layer in enumerate(self.lstm):
            if masks is not None:
                x = x * masks[l][:, None, :]
            x, _ = layer(x)
        top = x.reshape(N, -1)
        w_ih, w_hh, b_ih, b_hh = lstm_params(self.head)
        top_share = top @ w_ih[:, : top.shape[1]].t() + b_ih + b_hh
        flat = targets.reshape(N, STEP_SLOTS)
        slots = int((flat >= 0).sum(dim=1).max()) if N > 0 else 0
        emb_share = self.embedding(prefix.reshape(N, STEP_SLOTS)[:, :slots]) @ w_ih[:, top.shape[1] :].t()
        h = c = top.new_zeros(N, w_hh.shape[1])
        outs: List[Tensor] = []
        for j in range(slots):
            i, f, g, o = (top_share + emb_share[:, j] + h @ w_hh.t()).chunk(4, dim=1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            outs.append(h)
        if slots == 0:
            return top.new_zeros(0)
        scored = flat[:, :slots].reshape(-1)
        keep = scored >= 0
        hs = torch.stack(outs, dim=1)
        if self.config.head_skip is True:
            hs = torch.cat([hs, top[:, None, :].expand(N, slots, top.shape[1])], dim=2)
        logp = torch.log_softmax(self.output(hs.reshape(N * slots, -1)[keep]), dim=-1)
        return logp.gather(1, scored[keep][:, None])[:, 0]

    def input_widths(self) -> List[int]:
        return [step_units(self.config) + LOOKBACK_FLAGS if l == 0 else self.config.units for l in range(self.config.layers)]

    def weight_names(self) -> List[str]:
        names = ["embedding/embeddings", "step_in/kernel", "step_in/bias"]
        for layer in [*(f"lstm_{l + 1}" for l in range(self.config.layers)), "head"]:
            names += [f"{layer}/kernel", f"{layer}/recurrent_kernel", f"{layer}/bias"]
        return names + ["output/kernel", "output/bias"]

    def weight_shapes(self) -> List[Tuple[int, ...]]:
        """lib/model/note-network.ts noteWeightShapes."""
        c = self.config
        E, H, Hh, S, C = c.embedding_dim, c.units, head_units(c), step_units(c), code_size(c)
        shapes: List[Tuple[int, ...]] = [(C + 2, E), (INPUT_SLOTS * E, S), (S,)]
        for l in range(c.layers):
            shapes += [(S + LOOKBACK_FLAGS if l == 0 else H, 4 * H), (H, 4 * H), (4 * H,)]
        return shapes + [(H + E, 4 * Hh), (Hh, 4 * Hh), (4 * Hh,), (Hh + (H if c.head_skip is True else 0), C), (C,)]

    def to_keras(self) -> List[np.ndarray]:
        f = lambda t: t.detach().cpu().numpy().astype(np.float32)  # noqa: E731
        out = [f(self.embedding.weight), np.ascontiguousarray(f(self.step_in.weight).T), f(self.step_in.bias)]
        for layer in [*self.lstm, self.head]:
            out += lstm_to_keras(layer)
        return out + [np.ascontiguousarray(f(self.output.weight).T), f(self.output.bias)]

    def from_keras(self, arrays: Sequence[np.ndarray]) -> None:
        expect = self.weight_shapes()
        if len(arrays) != len(expect):
            raise UserError(f"the weights hold {len(arrays)} arrays, a note model of this config has {len(expect)}")
        for i, (a, shape) in enumerate(zip(arrays, expect)):
            if tuple(a.shape) != shape:
                raise UserError(
                    f"weight {i} ({self.weight_names()[i]}) has shape {list(a.shape)}, config.json's model expects {list(shape)}"
                )
        t = lambda a: torch.from_numpy(np.array(a, dtype=np.float32))  # noqa: E731  (a writable copy)
        with torch.no_grad():
            self.embedding.weight.copy_(t(arrays[0]))
            self.step_in.weight.copy_(t(arrays[1].T))
            self.step_in.bias.copy_(t(arrays[2]))
            for k, layer in enumerate([*self.lstm, self.head]):
                lstm_from_keras(layer, *arrays[3 + 3 * k : 6 + 3 * k])
            self.output.weight.copy_(t(arrays[-2].T))
            self.output.bias.copy_(t(arrays[-1]))

    def topology(self) -> Dict[str, Any]:
        return note_topology(self.config)


class NoteBatches(Batches):
    """The note family's windows (lib/data/note-dataset.ts): `seq_len` steps of a piece, each predicting the next step's codes."""

    def __init__(self, steps: PreparedSteps, pieces: Sequence[Piece], seq_len: int) -> None:
        self.steps, self.pieces, self.seq_len = steps, pieces, seq_len

    def lengths(self) -> List[int]:
        return [self.steps.count(p) for p in self.pieces]

    def targets(self, refs: np.ndarray) -> int:
        return sum(int(self.steps.records(self.pieces[int(p)], int(s) + 1, self.seq_len)["length"].sum()) for p, s in refs)

    def loss_sum(
        self, net: nn.Module, model: FamilyModel, refs: np.ndarray, seeds: Optional[Sequence[int]], device: torch.device
    ) -> Tensor:
        b = {k: torch.from_numpy(v).to(device) for k, v in note_batch(self.steps, self.pieces, refs, self.seq_len).items()}
        drawn = dropout_masks(model, seeds, model.config.dropout) if seeds is not None else None
        masks = [m.to(device) for m in drawn] if drawn is not None else None
        return -net(b["group"], b["flags"], b["prefix"], b["targets"], masks).sum()
