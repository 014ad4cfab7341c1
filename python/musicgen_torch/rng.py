"""The seeded random numbers of lib/core/rng.ts (mulberry32, deriveSeed, Fisher-Yates), bit for bit.

Ported so that a run here shuffles its windows in the same order as `musicgen train` does.
"""
from typing import List, Sequence, TypeVar

T = TypeVar("T")
_M32 = 0xFFFFFFFF


def _imul(a: int, b: int) -> int:
    """Math.imul: the low 32 bits of a product (as an unsigned value here)."""
    return ((a & _M32) * (b & _M32)) & _M32


class Rng:
    """mulberry32: uniform numbers in [0, 1) from a 32-bit seed (createRng)."""

    def __init__(self, seed: int) -> None:
        self._s = seed & _M32

    def next(self) -> float:
        self._s = (self._s + 0x6D2B79F5) & _M32
        t = self._s
        t = _imul(t ^ (t >> 15), t | 1)
        t = (t ^ ((t + _imul(t ^ (t >> 7), t | 61)) & _M32)) & _M32
        return ((t ^ (t >> 14)) & _M32) / 4294967296


def derive_seed(seed: int, label: int) -> int:
    """An independent seed from a seed and a label (deriveSeed)."""
    h = ((seed & _M32) ^ _imul(label + 1, 0x9E3779B1)) & _M32
    h = _imul(h ^ (h >> 16), 0x85EBCA6B)
    h = _imul(h ^ (h >> 13), 0xC2B2AE35)
    return (h ^ (h >> 16)) & _M32


def shuffled(items: Sequence[T], rng: Rng) -> List[T]:
    """A shuffled copy (Fisher-Yates, the same draws as lib/core/rng.ts shuffled)."""
    out = list(items)
    for i in range(len(out) - 1, 0, -1):
        j = int(rng.next() * (i + 1))
        out[i], out[j] = out[j], out[i]
    return out
