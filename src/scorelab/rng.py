"""Counter-based random numbers: every draw is a pure function of its coordinates.

A draw is addressed by ``(seed, stream name, entity, day, slot, sub)``. The seed
and a 64-bit hash of the stream name form a Philox4x64-10 key; ``(entity, day,
slot, sub)`` is the 256-bit counter. Philox (Salmon et al., SC'11, "Parallel
random numbers: as easy as 1, 2, 3") is the same bijection numpy ships as
``numpy.random.Philox``; ``tests/test_rng.py`` checks this implementation
against numpy's word for word.

Because no draw depends on any other, a population or a day is the same
whether it is computed in one chunk or many, by one worker or several, and the
counterfactual twin can share every draw with the factual run. See
docs/randomness.md for the conventions (which stream names exist, what the
counter words mean).
"""

from __future__ import annotations

import hashlib
import math

from scorelab.jit_cache import nb
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

_M0 = np.uint64(0xD2E7470EE14C6C93)
_M1 = np.uint64(0xCA5A826395121157)
_W0 = np.uint64(0x9E3779B97F4A7C15)
_W1 = np.uint64(0xBB67AE8584CAA73B)
_S11 = np.uint64(11)
_TWO_M53 = 1.0 / 9007199254740992.0  # 2**-53


def stream_id(name: str) -> int:
    """A stable 64-bit identifier for a stream name (independent of Python's hash seed)."""
    return int.from_bytes(hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest(), "little")


def key(seed: int, name: str) -> tuple[np.uint64, np.uint64]:
    """The Philox key for ``(seed, stream name)``."""
    if seed < 0 or seed >= 2**64:
        raise ValueError(f"seed must be in [0, 2**64), got {seed}")
    return np.uint64(seed), np.uint64(stream_id(name))


@intrinsic
def _mulhilo(typingctx, a, b):
    """64 x 64 -> 128-bit product as (hi, lo), one native multiply (LLVM i128)."""
    sig = types.UniTuple(types.uint64, 2)(types.uint64, types.uint64)

    def codegen(context, builder, signature, args):
        i128 = ir.IntType(128)
        p = builder.mul(builder.zext(args[0], i128), builder.zext(args[1], i128))
        lo = builder.trunc(p, ir.IntType(64))
        hi = builder.trunc(builder.lshr(p, ir.Constant(i128, 64)), ir.IntType(64))
        return context.make_tuple(builder, signature.return_type, (hi, lo))

    return sig, codegen


@nb.njit(cache=True, inline="always")
def philox(k0, k1, c0, c1, c2, c3):
    """Philox4x64-10: four independent uniform 64-bit words for one counter. (Compiled into
    its callers: the day loop draws per event, and independent draws overlap only there.)"""
    k0 = np.uint64(k0)
    k1 = np.uint64(k1)
    c0 = np.uint64(c0)
    c1 = np.uint64(c1)
    c2 = np.uint64(c2)
    c3 = np.uint64(c3)
    for r in range(10):
        if r > 0:
            k0 = k0 + _W0
            k1 = k1 + _W1
        hi0, lo0 = _mulhilo(_M0, c0)
        hi1, lo1 = _mulhilo(_M1, c2)
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
    return c0, c1, c2, c3


@nb.njit(inline="always", cache=True)
def to_unit(word):
    """A 64-bit word to a double in [0, 1) with 53 random bits."""
    return np.float64(word >> _S11) * _TWO_M53


@nb.njit(cache=True)
def uniform(k0, k1, entity, day, slot, sub):
    """One uniform in [0, 1) at the given coordinates (first Philox word)."""
    w0, _, _, _ = philox(k0, k1, entity, day, slot, sub)
    return to_unit(w0)


@nb.njit(cache=True)
def uniform4(k0, k1, entity, day, slot, sub):
    """Four independent uniforms in [0, 1) from one counter."""
    w0, w1, w2, w3 = philox(k0, k1, entity, day, slot, sub)
    return to_unit(w0), to_unit(w1), to_unit(w2), to_unit(w3)


_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S27, _S30, _S31 = np.uint64(27), np.uint64(30), np.uint64(31)


@nb.njit(cache=True, inline="always")
def splitmix(seed, i):
    """Word ``i`` (from 0) of the SplitMix64 sequence started at state ``seed``.

    SplitMix64 (Steele, Lea and Flood, OOPSLA 2014; the generator behind Java's
    SplittableRandom, which passes BigCrush) is itself counter-based: word i mixes
    ``seed + (i + 1) * gamma``. It costs three multiplies where Philox costs twenty, so the
    kernels use it for the fixed draws they repeat most, one per (stream, entity), whose seed
    comes from Philox (``fixed_seed``)."""
    z = np.uint64(seed) + (np.uint64(i) + np.uint64(1)) * _GAMMA
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


@nb.njit(cache=True, inline="always")
def fixed_unit(seed, i):
    """A uniform in [0, 1) for entity ``i`` of a fixed-draw stream seeded ``seed``."""
    return to_unit(splitmix(seed, i))


def fixed_seed(seed: int, name: str) -> np.uint64:
    """The SplitMix64 seed of the fixed-draw stream ``name``: Philox word 0 of (seed, name) at
    counter (2**64 - 1, 0, 0, 0), a counter no entity uses."""
    k0, k1 = key(seed, name)
    return np.uint64(philox(k0, k1, np.uint64(2**64 - 1), 0, 0, 0)[0])


@nb.njit(cache=True)
def _fixed_array(seed, entities, out):
    for i in range(entities.shape[0]):
        out[i] = fixed_unit(seed, entities[i])


def fixed_uniform(seed: int, name: str, entities: np.ndarray) -> np.ndarray:
    """The fixed draws of stream ``name`` for the given entities, as the kernels make them."""
    ent = np.ascontiguousarray(entities, dtype=np.uint64)
    out = np.empty(ent.shape[0], dtype=np.float64)
    _fixed_array(fixed_seed(seed, name), ent, out)
    return out


@nb.njit(cache=True)
def normal(k0, k1, entity, day, slot, sub):
    """One standard normal (Box-Muller on two words of one counter)."""
    w0, w1, _, _ = philox(k0, k1, entity, day, slot, sub)
    u1 = 1.0 - to_unit(w0)  # in (0, 1]: log is finite
    u2 = to_unit(w1)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


@nb.njit(cache=True)
def poisson_from_uniform(lam, u):
    """Poisson(lam) draw from one uniform by exact inversion of the CDF.

    Monotone in u, and (being exact) monotone in lam as well, so paired runs
    (factual and twin) move together when only lam differs. For large lam the
    search starts 12 standard deviations below the mean, where the mass left
    out is below 1e-31 (Chernoff bound exp(-t^2 / 2 lam)); the cost is
    O(sqrt(lam)) per draw.
    """
    if lam <= 0.0:
        return 0
    if lam < 30.0:
        k = 0
        p = math.exp(-lam)
    else:
        k = max(0, int(lam - 12.0 * math.sqrt(lam)))
        p = math.exp(k * math.log(lam) - lam - math.lgamma(k + 1.0))
    cdf = p
    while u >= cdf:
        k += 1
        p *= lam / k
        cdf += p
        if k > lam and p <= cdf * 1e-17:
            break  # the float CDF has stopped growing: u is within rounding of 1
    return k


@nb.njit(cache=True)
def _uniform_array(k0, k1, entities, day, slot, sub, out):
    for i in range(entities.shape[0]):
        out[i] = uniform(k0, k1, entities[i], day, slot, sub)


@nb.njit(cache=True)
def _normal_array(k0, k1, entities, day, slot, sub, out):
    for i in range(entities.shape[0]):
        out[i] = normal(k0, k1, entities[i], day, slot, sub)


@nb.njit(cache=True)
def _raw_array(k0, k1, entities, day, slot, sub, out):
    for i in range(entities.shape[0]):
        w0, w1, w2, w3 = philox(k0, k1, entities[i], day, slot, sub)
        out[i, 0] = w0
        out[i, 1] = w1
        out[i, 2] = w2
        out[i, 3] = w3


class Stream:
    """A named stream of draws for one seed: ``Stream(seed, "population.age")``.

    The array methods take entity ids (people, firms, households, edges...) and
    return one draw per id. ``day``, ``slot`` and ``sub`` pick further
    coordinates so one stream can serve several independent draws per entity.
    """

    __slots__ = ("seed", "name", "k0", "k1")

    def __init__(self, seed: int, name: str) -> None:
        self.seed = int(seed)
        self.name = name
        self.k0, self.k1 = key(self.seed, name)

    def __repr__(self) -> str:
        return f"Stream(seed={self.seed}, name={self.name!r})"

    def uniform(self, entities: np.ndarray, day: int = 0, slot: int = 0, sub: int = 0) -> np.ndarray:
        ent = np.ascontiguousarray(entities, dtype=np.uint64)
        out = np.empty(ent.shape[0], dtype=np.float64)
        _uniform_array(self.k0, self.k1, ent, np.uint64(day), np.uint64(slot), np.uint64(sub), out)
        return out

    def normal(self, entities: np.ndarray, day: int = 0, slot: int = 0, sub: int = 0) -> np.ndarray:
        ent = np.ascontiguousarray(entities, dtype=np.uint64)
        out = np.empty(ent.shape[0], dtype=np.float64)
        _normal_array(self.k0, self.k1, ent, np.uint64(day), np.uint64(slot), np.uint64(sub), out)
        return out

    def raw(self, entities: np.ndarray, day: int = 0, slot: int = 0, sub: int = 0) -> np.ndarray:
        """Four raw 64-bit words per entity, shape (n, 4)."""
        ent = np.ascontiguousarray(entities, dtype=np.uint64)
        out = np.empty((ent.shape[0], 4), dtype=np.uint64)
        _raw_array(self.k0, self.k1, ent, np.uint64(day), np.uint64(slot), np.uint64(sub), out)
        return out

    def choice(self, entities: np.ndarray, probabilities: np.ndarray, day: int = 0, slot: int = 0, sub: int = 0) -> np.ndarray:
        """Categorical draw per entity by inverse CDF; returns category indices."""
        p = np.asarray(probabilities, dtype=np.float64)
        cdf = np.cumsum(p)
        cdf /= cdf[-1]
        idx = np.searchsorted(cdf, self.uniform(entities, day, slot, sub), side="right")
        return np.minimum(idx, len(p) - 1)
