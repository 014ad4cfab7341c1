"""Command line: `python3 -m musicgen_torch {train,probs,note-logp,fresh,windows,bench} ...` (one process; launch.py starts several).

Errors in the user's input are one line on stderr naming the file or flag, with exit code 1.
"""
import argparse
import json
import sys
from typing import List, Optional

from . import OneLineParser, UserError


def _parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="python3 -m musicgen_torch", description="Train musicgen's token and note model families on PyTorch (DDP).")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train on a prepared folder and write a musicgen model folder")
    t.add_argument("--data", required=True, help="a folder written by `musicgen prepare` (manifest.json, vocab.json, shard-*.bin)")
    t.add_argument("--out", required=True, help="the model folder to write (rank 0 writes it)")
    t.add_argument("--init-from", help="a model folder to start from (e.g. models/piano); its vocabulary must be the data's")
    t.add_argument("--replace", action="store_true", help="overwrite a model already in --out")
    t.add_argument("--seq-len", type=int, default=64)
    t.add_argument("--stride", type=int, default=32)
    t.add_argument("--epochs", type=int, default=20)
    t.add_argument("--batch-size", type=int, default=32, help="windows per global batch, over all processes")
    t.add_argument("--lr", type=float, default=0.002)
    t.add_argument("--lr-decay", type=float, default=0.5)
    t.add_argument("--clip-norm", type=float, default=5.0)
    t.add_argument("--patience", type=int, default=3)
    t.add_argument("--seed", type=int, default=1234, help="seed of the shuffles and the dropout")
    t.add_argument("--max-val-windows", type=int, default=2048)
    t.add_argument("--max-minutes", type=float, default=0.0)
    t.add_argument("--units", type=int, default=256)
    t.add_argument("--layers", type=int, default=2)
    t.add_argument("--embedding", type=int, default=64)
    t.add_argument("--dropout", type=float, default=0.1)
    t.add_argument("--model-seed", type=int, default=42, help="seed of a fresh model's initial weights")
    t.add_argument(
        "--family", choices=("token", "note"), default="token", help="token (default) or note (--data prepared with --family note)"
    )
    t.add_argument("--head-units", type=int, default=None, help="units of a fresh note model's head (default 128)")
    t.add_argument(
        "--no-head-skip", action="store_true", help="a fresh note model's output reads only its head (no skip from the main LSTM)"
    )
    t.add_argument("--step-units", type=int, default=None, help="width of a fresh note model's step vector (default: --units)")
    t.add_argument("--threads", type=int, default=0, help="torch threads per process (0: launch.py's share of the cores)")
    t.add_argument("--json", action="store_true", help="print a JSON summary as the last line")
    pr = sub.add_parser("probs", help="print a model folder's next-token probabilities after each prefix of some ids (JSON)")
    pr.add_argument("--model", required=True)
    pr.add_argument("--ids", required=True, help="comma-separated token ids")
    f = sub.add_parser(
        "fresh",
        help="write a model folder of random weights (every bias too) and print its in-memory probabilities for --ids (the parity test's PyTorch side)",
    )
    f.add_argument("--vocab-file", required=True, help="the vocab.json to write beside it")
    f.add_argument("--out", required=True)
    f.add_argument("--units", type=int, default=16)
    f.add_argument("--layers", type=int, default=2)
    f.add_argument("--embedding", type=int, default=8)
    f.add_argument("--seed", type=int, default=1)
    f.add_argument("--ids", required=True, help="comma-separated token ids")
    n = sub.add_parser(
        "note-logp",
        help="print a note model folder's ln p of each target of a window of a prepared piece's steps, [T][8] (JSON; null: no target)",
    )
    n.add_argument("--model", required=True)
    n.add_argument("--data", required=True, help="a folder written by `musicgen prepare --family note`")
    n.add_argument("--piece", type=int, default=0, help="the piece's index in the manifest")
    n.add_argument("--start", type=int, default=0, help="the window's first step")
    n.add_argument("--steps", type=int, required=True, help="steps in the window")
    n.add_argument("--write-random", help="first give --model's model random weights (both biases too) and write it to this folder")
    n.add_argument("--seed", type=int, default=1, help="seed of --write-random's weights")
    w = sub.add_parser("windows", help="print the training windows of an epoch in their order, as [piece, start] pairs (JSON)")
    w.add_argument("--data", required=True)
    w.add_argument("--seq-len", type=int, default=64)
    w.add_argument("--stride", type=int, default=32)
    w.add_argument("--seed", type=int, default=1234)
    w.add_argument("--epoch", type=int, default=0)
    w.add_argument("--family", choices=("token", "note"), default="token", help="windows of tokens, or of steps (note)")
    b = sub.add_parser("bench", help="training throughput on random ids (or steps) of the given shapes (JSON)")
    b.add_argument("--family", choices=("token", "note"), default="token", help="token (default), or note: --seq-len counts steps")
    b.add_argument("--vocab", type=int, default=505)
    b.add_argument("--units", type=int, default=256)
    b.add_argument("--layers", type=int, default=2)
    b.add_argument("--embedding", type=int, default=64)
    b.add_argument("--batch-size", type=int, default=32)
    b.add_argument("--seq-len", type=int, default=64)
    b.add_argument("--batches", type=int, default=10)
    b.add_argument("--threads", type=int, default=0)
    b.add_argument("--head-units", type=int, default=128, help="the note model's head units")
    b.add_argument("--step-units", type=int, default=None, help="the note model's step vector width (default: --units)")
    b.add_argument("--no-head-skip", action="store_true", help="the note model's output reads only its head")
    b.add_argument("--no-copy", action="store_true", help="the note model has no copy ids (its head chooses among the vocabulary only)")
    b.add_argument("--step-lengths", help="steps of the data by their code ids, 8 comma-separated counts for 1..8 (default piano-midi's)")
    b.add_argument("--note-steps", help="of those, the steps that hold a note, 8 counts (with --step-lengths)")
    return p


def _check(name: str, value: float, ok: bool, want: str) -> None:
    if not ok:
        raise UserError(f"{name} must be {want} (got {value})")


def _ids(text: str) -> List[int]:
    try:
        return [int(x) for x in text.split(",")]
    except ValueError:
        raise UserError(f"--ids must be comma-separated integers (got {text!r})") from None


def main(argv: Optional[List[str]] = None) -> int:
    a = _parser().parse_args(argv)
    try:
        import numpy  # noqa: F401
        import torch  # noqa: F401
    except ImportError as e:
        print(f"error: {e.name} is not installed for {sys.executable} (Debian/Ubuntu: sudo apt-get install python3-torch)", file=sys.stderr)
        return 1
    try:
        if a.command == "train":
            from .train import TrainSettings, train

            for flag, v, lo, hi in [("--seq-len", a.seq_len, 2, 10_000), ("--stride", a.stride, 1, 10_000), ("--epochs", a.epochs, 1, 100_000),
                                    ("--batch-size", a.batch_size, 1, 4096), ("--patience", a.patience, 0, 100_000), ("--seed", a.seed, 0, 2**31 - 1),
                                    ("--units", a.units, 1, 4096), ("--layers", a.layers, 1, 8), ("--embedding", a.embedding, 1, 4096),
                                    ("--max-val-windows", a.max_val_windows, 0, 10_000_000), ("--model-seed", a.model_seed, 0, 2**31 - 1),
                                    ("--threads", a.threads, 0, 256), ("--head-units", a.head_units or 1, 1, 4096),
                                    ("--step-units", a.step_units or 1, 1, 4096)]:  # fmt: skip
                _check(flag, v, lo <= v <= hi, f"an integer in [{lo}, {hi}]")
            _check("--lr", a.lr, 0 < a.lr <= 1, "in (0, 1]")
            _check("--lr-decay", a.lr_decay, 0 < a.lr_decay <= 1, "in (0, 1] (1 = constant learning rate)")
            _check("--clip-norm", a.clip_norm, a.clip_norm >= 0, "≥ 0 (0 = off)")
            _check("--dropout", a.dropout, 0 <= a.dropout < 1, "in [0, 1)")
            _check("--max-minutes", a.max_minutes, a.max_minutes >= 0, "≥ 0 (0 = no limit)")
            train(TrainSettings(
                data=a.data, out=a.out, init_from=a.init_from, replace=a.replace, seq_len=a.seq_len, stride=a.stride, epochs=a.epochs,
                batch_size=a.batch_size, learning_rate=a.lr, lr_decay=a.lr_decay, clip_norm=a.clip_norm, patience=a.patience, seed=a.seed,
                max_val_windows=a.max_val_windows, max_minutes=a.max_minutes, embedding_dim=a.embedding, units=a.units, layers=a.layers,
                dropout=a.dropout, model_seed=a.model_seed, family=a.family, head_units=a.head_units, head_skip=not a.no_head_skip, step_units=a.step_units,
                threads=a.threads, as_json=a.json,
            ))  # fmt: skip
        elif a.command == "probs":
            from .folder import read_model_folder
            from .token_family import TokenLSTM, probabilities

            ids = _ids(a.ids)
            model, _ = read_model_folder(a.model)
            if not isinstance(model, TokenLSTM):
                raise UserError(f"--model {a.model} is a note model: probs reads token models (note models: note-logp)")
            bad = [i for i in ids if not 0 <= i < model.config.vocab_size]
            if bad:
                raise UserError(f"--ids: {bad[0]} is not a token id of {a.model} (0 to {model.config.vocab_size - 1})")
            print(json.dumps(probabilities(model, ids).tolist()))
        elif a.command == "note-logp":
            from .note_check import note_logp

            print(json.dumps(note_logp(a.model, a.data, a.piece, a.start, a.steps, a.write_random, a.seed)))
        elif a.command == "windows":
            from .data import PreparedCorpus, epoch_order, windows_over

            corpus = PreparedCorpus(a.data)
            if a.family == "note":
                from .note_data import PreparedSteps

                steps = PreparedSteps(corpus)
                lengths = [steps.count(p) for p in corpus.train]
            else:
                lengths = [p.length for p in corpus.train]
            index = windows_over(lengths, a.seq_len, a.stride)
            print(json.dumps(epoch_order(index, a.seed, a.epoch).tolist()))
        elif a.command == "fresh":
            from .folder import vocab_tokens
            from .config import ModelConfig
            from .folder import random_model_folder

            ids = _ids(a.ids)
            config = ModelConfig(len(vocab_tokens(a.vocab_file)), a.embedding, a.units, a.layers, 0.0, 0.0, a.seed)
            print(json.dumps(random_model_folder(config, a.vocab_file, a.out, ids).tolist()))
        else:
            from .bench import Shape, StepProfile, bench

            for flag, v, lo, hi in [("--vocab", a.vocab, 2, 100_000), ("--units", a.units, 1, 4096), ("--layers", a.layers, 1, 8),
                                    ("--embedding", a.embedding, 1, 4096), ("--batch-size", a.batch_size, 1, 4096),
                                    ("--seq-len", a.seq_len, 1, 10_000), ("--batches", a.batches, 1, 100_000), ("--threads", a.threads, 0, 256),
                                    ("--head-units", a.head_units, 1, 4096), ("--step-units", a.step_units or 1, 1, 4096)]:  # fmt: skip
                _check(flag, v, lo <= v <= hi, f"an integer in [{lo}, {hi}]")
            shape = Shape(
                a.vocab, a.units, a.layers, a.embedding, a.batch_size, a.seq_len, a.family, a.head_units, a.step_units,
                head_skip=not a.no_head_skip, copy=not a.no_copy,
            )  # fmt: skip
            bench(shape, a.batches, a.threads, StepProfile.parse(a.step_lengths, a.note_steps))
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
