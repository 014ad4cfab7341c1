"""The seeded shuffle of lib/core/rng.ts (mulberry32, deriveSeed, Fisher-Yates), bit for bit.

Ported so that a run here shuffles its windows in the same order as `musicgen train` does.
"""

import numpy as np

_M32 = 0xFFFFFFFF


def _imul(a: int, b: int) -> int:
    """Math.imul: the low 32 bits of a product (as an unsigned value here)."""
    return ((a & _M32) * (b & _M32)) & _M32


def derive_seed(seed: int, label: int) -> int:
    """An independent seed from a seed and a label (deriveSeed)."""
    h = ((seed & _M32) ^ _imul(label + 1, 0x9E3779B1)) & _M32
    h = _imul(h ^ (h >> 16), 0x85EBCA6B)
    h = _imul(h ^ (h >> 13), 0xC2B2AE35)
    return (h ^ (h >> 16)) & _M32


def _uniforms(seed: int, count: int) -> np.ndarray:
    """The first `count` numbers of createRng(seed) (mulberry32), computed at once: its state is a counter, seed + k·0x6D2B79F5."""
    m = np.uint64(_M32)
    t = (np.uint64(seed & _M32) + np.arange(1, count + 1, dtype=np.uint64) * np.uint64(0x6D2B79F5)) & m
    t = ((t ^ (t >> np.uint64(15))) * (t | np.uint64(1))) & m
    t = (t ^ ((t + (((t ^ (t >> np.uint64(7))) * (t | np.uint64(61))) & m)) & m)) & m
    return ((t ^ (t >> np.uint64(14))) & m).astype(np.float64) / 4294967296.0


def permutation(n: int, seed: int) -> np.ndarray:
    """The order shuffled([0..n), createRng(seed)) gives (Fisher-Yates), as an int64 array: the draws at once, the swaps in a loop."""
    draws = (_uniforms(seed, max(0, n - 1)) * np.arange(n, 1, -1, dtype=np.float64)).astype(np.int64).tolist()
    out = list(range(n))
    for k, j in enumerate(draws):
        i = n - 1 - k
        out[i], out[j] = out[j], out[i]
    return np.array(out, dtype=np.int64)
