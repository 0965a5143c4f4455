"""What stored layers (``contacts``) and drawn layers (``drawn``) share: each participant's
Chung-Lu weight (its expected degree, from the layer's degree distribution), who takes part
in a social layer, its mixing modes, and participants sorted by block.

A drawn layer makes a weight again whenever it needs one (``weight_of``), from the same
stream as the stored layer, so the two give a person the same sociability.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from scorelab.jit_cache import nb
import numpy as np

from scorelab import rng
from scorelab.scenario.population import LognormalDegree, NegativeBinomialDegree, PoissonDegree, SocialLayerSpec
from scorelab.synth.population import Population, chunk_bounds


@nb.njit(cache=True)
def _gamma(k0, k1, i, shape):
    """Gamma(shape, 1) by Marsaglia-Tsang; attempt t uses counter (i, 0, 1, t)."""
    a = shape + 1.0 if shape < 1.0 else shape
    d = a - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    x = d
    u3 = 0.5
    for t in range(1000):
        u0, u1, u2, u3 = rng.uniform4(k0, k1, i, 0, 1, t)
        z = math.sqrt(-2.0 * math.log(1.0 - u0)) * math.cos(2.0 * math.pi * u1)
        v = 1.0 + c * z
        if v <= 0.0:
            continue
        v = v * v * v
        if math.log(1.0 - u2) < 0.5 * z * z + d - d * v + d * math.log(v):
            x = d * v
            break
    if shape < 1.0:
        x *= (1.0 - u3) ** (1.0 / shape)
    return x


@nb.njit(cache=True)
def weight_of(k0, k1, kind, mean, param, i):
    """Participant i's weight: kind 0 Poisson (w = mean), 1 gamma (shape param, mean), 2
    lognormal (sigma param, mean). Drawn layers (``synth.drawn``) make it again when needed."""
    if kind == 0:
        return mean
    if kind == 1:
        return _gamma(k0, k1, i, param) * (mean / param)
    z = rng.normal(k0, k1, i, 0, 0, 0)
    return mean * math.exp(param * z - 0.5 * param * param)


@nb.njit(cache=True)
def _weights(k0, k1, active, kind, mean, param, lo, hi, w):
    for i in range(lo, hi):
        w[i] = weight_of(k0, k1, kind, mean, param, i) if active[i] else 0.0


@nb.njit(cache=True)
def partition(block, w, nblocks, order, seg):
    """Counting sort of participants (w > 0) by block, stable in person id."""
    n = block.shape[0]
    seg[:] = 0
    for i in range(n):
        if w[i] > 0.0:
            seg[block[i] + 1] += 1
    for b in range(nblocks):
        seg[b + 1] += seg[b]
    pos = seg[:-1].copy()
    for i in range(n):
        if w[i] > 0.0:
            b = block[i]
            order[pos[b]] = i
            pos[b] += 1


#: The degree distributions, as ``weight_of`` numbers them.
KIND = {"poisson": 0, "negative_binomial": 1, "lognormal": 2}


def degree_params(deg) -> tuple[int, float, float]:
    """A degree distribution as ``weight_of`` reads it: (kind, mean, parameter)."""
    if isinstance(deg, PoissonDegree):
        return 0, deg.mean, 0.0
    if isinstance(deg, NegativeBinomialDegree):
        return 1, deg.mean, deg.dispersion
    if isinstance(deg, LognormalDegree):
        return 2, deg.mean, deg.sigma
    raise TypeError(f"unknown degree distribution {deg!r}")


def layer_weights(pop_n: int, active: np.ndarray, degree, seed: int, layer: str, chunks: int = 1) -> np.ndarray:
    """Chung-Lu weights (float64, expected degrees) for a layer; 0 for non-participants."""
    kind, mean, param = degree_params(degree)
    k0, k1 = rng.key(seed, f"contacts.{layer}.weight")
    w = np.empty(pop_n, dtype=np.float64)
    for lo, hi in chunk_bounds(pop_n, chunks):
        _weights(k0, k1, active, kind, float(mean), float(param), lo, hi, w)
    return w


def mode_probabilities(spec: SocialLayerSpec) -> tuple[float, float, float, float]:
    """Probabilities of a social layer's mixing modes: same city and group, same city, same
    group, anyone (in this order, for stored and drawn layers)."""
    c, g = spec.same_city, spec.same_group
    return c * g, c * (1 - g), (1 - c) * g, (1 - c) * (1 - g)


def participants(pop: "Population | Mapping[str, np.ndarray]", name: str, spec: SocialLayerSpec) -> np.ndarray:
    """Who takes part in a social layer: aged min_age or more, and internet users for online
    (from a population, or from some people's columns by name)."""
    col = pop if isinstance(pop, Mapping) else {"age": pop.age, "internet": pop.internet}
    active = col["age"] >= spec.min_age
    if name == "online":
        active &= col["internet"]
    return active
