"""The counter-based random numbers in ``scorelab.rng``.

Statistical tests use fixed seeds, so they are deterministic; their tolerances are
4 standard errors (a correct generator fails such a check with probability ~6e-5 per
statistic, so a seed that passes stays meaningful) unless stated otherwise.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np
import pytest

from scorelab import rng

N = 200_000


def _np_words(key: tuple[int, int], counter: tuple[int, int, int, int], n_blocks: int) -> np.ndarray:
    bg = np.random.Philox(key=np.array(key, dtype=np.uint64), counter=np.array(counter, dtype=np.uint64))
    return bg.random_raw(4 * n_blocks).reshape(n_blocks, 4)


def _ours(key: tuple[int, int], counter: tuple[int, int, int, int]) -> tuple[int, ...]:
    w = rng.philox(np.uint64(key[0]), np.uint64(key[1]), *(np.uint64(c) for c in counter))
    return tuple(int(x) for x in w)


def _add(counter: tuple[int, int, int, int], k: int) -> tuple[int, int, int, int]:
    """256-bit little-endian counter + k (with carries), as numpy increments it."""
    value = sum(c << (64 * i) for i, c in enumerate(counter)) + k
    value %= 1 << 256
    return tuple((value >> (64 * i)) & (2**64 - 1) for i in range(4))


M64 = 2**64 - 1


@pytest.mark.parametrize(
    "key, counter",
    [
        ((0, 0), (0, 0, 0, 0)),
        ((123, 456), (1, 2, 3, 4)),
        ((M64, M64), (M64 - 1, 7, 0, 9)),
        ((0xDEADBEEF, 2**63), (M64, M64, 5, 0)),  # the first increment carries into the third word
        ((2**40 + 3, 17), (M64, M64, M64, M64)),  # wraps around to zero
    ],
)
def test_philox_matches_numpy(key, counter) -> None:
    """Our Philox4x64-10 equals numpy's word for word. numpy increments the counter before its
    first block, so numpy's block j for counter c is our philox(c + 1 + j)."""
    expected = _np_words(key, counter, 3)
    for j in range(3):
        assert _ours(key, _add(counter, 1 + j)) == tuple(int(x) for x in expected[j])


def test_philox_matches_numpy_random_keys() -> None:
    """Same check on 200 random keys and counters (numpy's own generator picks them)."""
    g = np.random.default_rng(2024)
    for _ in range(200):
        key = tuple(int(x) for x in g.integers(0, 2**64, size=2, dtype=np.uint64))
        counter = tuple(int(x) for x in g.integers(0, 2**64, size=4, dtype=np.uint64))
        assert _ours(key, _add(counter, 1)) == tuple(int(x) for x in _np_words(key, counter, 1)[0])


def test_stream_raw_is_philox_at_coordinates() -> None:
    """``Stream.raw`` is philox(key(seed, name), (entity, day, slot, sub))."""
    s = rng.Stream(7, "test.raw")
    raw = s.raw(np.array([0, 5, 2**40]), day=3, slot=2, sub=1)
    for row, entity in zip(raw, [0, 5, 2**40]):
        assert tuple(int(x) for x in row) == _ours((int(s.k0), int(s.k1)), (entity, 3, 2, 1))


def test_uniform_range_mean_variance() -> None:
    """Uniforms lie in [0, 1); mean 1/2 and variance 1/12 within 4 standard errors
    (SE of the mean sqrt(1/12/n); SE of the variance sqrt((1/80 - 1/144)/n))."""
    u = rng.Stream(1, "test.uniform").uniform(np.arange(N))
    assert u.min() >= 0.0 and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 4 * math.sqrt(1 / 12 / N)
    assert abs(u.var() - 1 / 12) < 4 * math.sqrt((1 / 80 - 1 / 144) / N)
    counts, _ = np.histogram(u, bins=20, range=(0, 1))
    expected = N / 20
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 19 + 4 * math.sqrt(2 * 19)  # chi-square, 19 df: mean + 4 sd


def test_to_unit_edges() -> None:
    """The extreme 64-bit words map to 0 and to the largest double below 1 (never 1)."""
    assert rng.to_unit(np.uint64(0)) == 0.0
    top = rng.to_unit(np.uint64(M64))
    assert top < 1.0 and top == 1.0 - 2.0**-53


def test_uniform4_words_are_independent() -> None:
    """The four uniforms of one counter are pairwise uncorrelated (|r| < 4/sqrt(n))."""
    k0, k1 = rng.key(3, "test.u4")
    draws = np.array([rng.uniform4(k0, k1, np.uint64(i), np.uint64(0), np.uint64(0), np.uint64(0)) for i in range(20_000)])
    r = np.corrcoef(draws.T)
    off = r[~np.eye(4, dtype=bool)]
    assert np.abs(off).max() < 4 / math.sqrt(20_000)


def test_normal_mean_variance() -> None:
    """Box-Muller normals: mean 0 and variance 1 within 4 SE (SE sqrt(1/n) and sqrt(2/n))."""
    z = rng.Stream(2, "test.normal").normal(np.arange(N))
    assert np.isfinite(z).all()
    assert abs(z.mean()) < 4 / math.sqrt(N)
    assert abs(z.var() - 1) < 4 * math.sqrt(2 / N)


def test_determinism_and_chunking() -> None:
    """Same seed, name and coordinates give the same draws, in any chunking or order."""
    ids = np.arange(10_000)
    a = rng.Stream(5, "population.age").uniform(ids, day=4)
    b = rng.Stream(5, "population.age").uniform(ids, day=4)
    assert np.array_equal(a, b)
    chunks = np.concatenate([rng.Stream(5, "population.age").uniform(c, day=4) for c in np.array_split(ids, 7)])
    assert np.array_equal(a, chunks)
    perm = np.random.default_rng(0).permutation(ids)
    assert np.array_equal(rng.Stream(5, "population.age").uniform(perm, day=4), a[perm])


def test_stream_id_is_stable() -> None:
    """Stream ids come from blake2b, not Python's salted hash: fixed across processes."""
    assert rng.stream_id("population.age") == rng.stream_id("population.age")
    assert rng.stream_id("a") != rng.stream_id("b")
    import hashlib

    assert rng.stream_id("x") == int.from_bytes(hashlib.blake2b(b"x", digest_size=8).digest(), "little")


def test_streams_are_independent() -> None:
    """Different names, seeds, days, slots or subs give different, uncorrelated draws
    (|r| < 4/sqrt(n) for each pair)."""
    ids = np.arange(50_000)
    base = rng.Stream(1, "a").uniform(ids)
    others = {
        "name": rng.Stream(1, "b").uniform(ids),
        "seed": rng.Stream(2, "a").uniform(ids),
        "day": rng.Stream(1, "a").uniform(ids, day=1),
        "slot": rng.Stream(1, "a").uniform(ids, slot=1),
        "sub": rng.Stream(1, "a").uniform(ids, sub=1),
    }
    for what, other in others.items():
        assert not np.array_equal(base, other), what
        assert (base == other).mean() < 1e-3, what
        assert abs(np.corrcoef(base, other)[0, 1]) < 4 / math.sqrt(len(ids)), what


def test_key_rejects_bad_seeds() -> None:
    """Seeds must fit in 64 bits."""
    with pytest.raises(ValueError):
        rng.key(-1, "x")
    with pytest.raises(ValueError):
        rng.key(2**64, "x")
    rng.key(2**64 - 1, "x")


# ------------------------------------------------------------------ Poisson


def _poisson_cdf(lam: float, kmax: int) -> np.ndarray:
    """P(X <= k) for k = 0..kmax, from log-pmf (stable for large lam)."""
    k = np.arange(kmax + 1)
    logpmf = k * math.log(lam) - lam - np.array([math.lgamma(i + 1) for i in k])
    return np.cumsum(np.exp(logpmf))


def _poisson_draws(lam: float, n: int = N) -> np.ndarray:
    u = rng.Stream(11, f"test.poisson.{lam}").uniform(np.arange(n))
    return np.array([rng.poisson_from_uniform(lam, x) for x in u])


@pytest.mark.parametrize("lam", [0.1, 3.0, 50.0])
def test_poisson_chi_square(lam: float) -> None:
    """The draw is the exact inverse CDF, so 200,000 draws pass a chi-square
    test against the Poisson pmf (bins pooled to expected >= 5; threshold df + 4 sqrt(2 df),
    the normal approximation's 4-sigma point), and mean and variance are within 4 SE."""
    x = _poisson_draws(lam)
    kmax = int(lam + 12 * math.sqrt(lam) + 12)
    pmf = np.diff(np.concatenate([[0.0], _poisson_cdf(lam, kmax)]))
    observed = np.bincount(np.minimum(x, kmax), minlength=kmax + 1)
    pmf[-1] += 1 - pmf.sum()  # the top bin is "kmax or more"
    # pool bins from both ends until each has expected >= 5
    exp_bins, obs_bins, e_acc, o_acc = [], [], 0.0, 0
    for e, o in zip(pmf * N, observed):
        e_acc, o_acc = e_acc + e, o_acc + o
        if e_acc >= 5:
            exp_bins.append(e_acc)
            obs_bins.append(o_acc)
            e_acc, o_acc = 0.0, 0
    exp_bins[-1] += e_acc
    obs_bins[-1] += o_acc
    e, o = np.array(exp_bins), np.array(obs_bins)
    chi2 = float(((o - e) ** 2 / e).sum())
    df = len(e) - 1
    assert df >= 1
    assert chi2 < df + 4 * math.sqrt(2 * df), (chi2, df)
    assert abs(x.mean() - lam) < 4 * math.sqrt(lam / N)
    # Var of the sample variance of a Poisson: (mu4 - sigma^4)/n = (lam + 2 lam^2) / n
    assert abs(x.var() - lam) < 4 * math.sqrt((lam + 2 * lam**2) / N)


@pytest.mark.parametrize("lam", [0.1, 3.0, 29.9, 30.0, 50.0, 400.0, 2500.0])
def test_poisson_is_exact_inverse_cdf(lam: float) -> None:
    """poisson_from_uniform(lam, u) is the smallest k with u < CDF(k), below and above the
    shifted start at lam = 30: checked on a
    grid of 2,001 u values (points within 1e-9 of a CDF step are skipped: the running sum and
    the reference CDF may round differently there)."""
    cdf = _poisson_cdf(lam, int(lam + 20 * math.sqrt(lam) + 30))
    for u in np.linspace(0, 1 - 1e-12, 2001):
        k = int(np.searchsorted(cdf, u, side="right"))
        if np.min(np.abs(cdf - u)) < 1e-9:
            continue
        assert rng.poisson_from_uniform(lam, u) == k, (lam, u)


def test_poisson_large_lambda() -> None:
    """For lam = 800 (search started 12 sd below the mean): mean and variance within 4 SE,
    and the largest gap between the empirical CDF and the exact Poisson CDF below 0.01
    (sampling noise of a KS statistic at n = 200,000 is ~0.003)."""
    lam = 800.0
    x = _poisson_draws(lam)
    assert abs(x.mean() - lam) < 4 * math.sqrt(lam / N)
    assert abs(x.var() - lam) < 4 * math.sqrt((lam + 2 * lam**2) / N)
    kmax = int(lam + 10 * math.sqrt(lam))
    cdf = _poisson_cdf(lam, kmax)
    emp = np.searchsorted(np.sort(x), np.arange(kmax + 1), side="right") / len(x)
    assert np.abs(emp - cdf).max() < 0.01


@pytest.mark.parametrize("lam", [0.0, 1e-9, 0.1, 3.0, 50.0, 499.0, 501.0, 800.0, 1e6])
def test_poisson_monotone_in_u(lam: float) -> None:
    """Draws never decrease as u grows, for small and large rates, so a factual run
    and its twin that share u move together."""
    u = np.concatenate([[0.0], np.linspace(0, 1, 5001)[1:-1], [1 - 2**-53]])
    k = np.array([rng.poisson_from_uniform(lam, x) for x in u])
    assert (np.diff(k) >= 0).all()
    assert k.min() >= 0
    if lam == 0.0:
        assert (k == 0).all()


@pytest.mark.parametrize("lo, hi", [(0.0, 40.0), (25.0, 2000.0), (1e5, 1.001e5)])
def test_poisson_monotone_in_lambda(lo: float, hi: float) -> None:
    """For a fixed u, a larger rate never gives fewer events (exact inversion throughout,
    including across the switch to the shifted start at lam = 30)."""
    for u in [0.01, 0.3, 0.5, 0.9, 0.999]:
        lams = np.linspace(lo, hi, 2001)
        k = [rng.poisson_from_uniform(lam, u) for lam in lams]
        assert all(b >= a for a, b in zip(k, k[1:])), u


def test_poisson_u_near_one_stays_in_the_tail() -> None:
    """A uniform within rounding of 1 gives a far-tail count, not an absurd one: at most
    lam + 20 sd + 20 (the float CDF stops growing there)."""
    u = 1.0 - 2.0**-53
    for lam in [0.1, 3.0, 50.0, 800.0]:
        k = rng.poisson_from_uniform(lam, u)
        assert lam < k <= lam + 20 * math.sqrt(lam) + 20, (lam, k)


# ------------------------------------------------------------------ categorical


def test_choice_frequencies() -> None:
    """Stream.choice picks category i with probability p_i (unnormalised weights are
    normalised): each frequency within 4 SE sqrt(p(1-p)/n); a zero weight is never chosen."""
    weights = np.array([1.0, 2.0, 0.0, 3.0, 4.0])
    p = weights / weights.sum()
    idx = rng.Stream(9, "test.choice").choice(np.arange(N), weights)
    assert idx.min() >= 0 and idx.max() < len(weights)
    freq = np.bincount(idx, minlength=len(weights)) / N
    assert freq[2] == 0.0
    for fi, pi in zip(freq, p):
        assert abs(fi - pi) < 4 * math.sqrt(pi * (1 - pi) / N) + 1e-12


def test_choice_is_inverse_cdf_of_uniform() -> None:
    """choice uses the stream's uniform at the same coordinates (so it is paired with it)."""
    s = rng.Stream(4, "test.choice2")
    ids = np.arange(1000)
    u = s.uniform(ids, day=2)
    idx = s.choice(ids, [0.25, 0.25, 0.5], day=2)
    assert np.array_equal(idx, np.where(u < 0.25, 0, np.where(u < 0.5, 1, 2)))


@nb.njit(cache=True)
def _fixed_units(seed, n):
    out = np.empty(n)
    for i in range(n):
        out[i] = rng.fixed_unit(seed, i)
    return out


def test_splitmix_matches_reference_words() -> None:
    """SplitMix64 from state 0 gives the reference generator's first words (Vigna's
    splitmix64.c, the seeding generator of the xoshiro family)."""
    got = [int(rng.splitmix(np.uint64(0), np.uint64(i))) for i in range(3)]
    assert got == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]


def test_fixed_draws_uniform_and_independent() -> None:
    """Fixed draws (coverage, awareness): uniform (mean, variance within 4 SE, chi-square of
    20 bins below mean + 4 sd), a function of (seed, name, entity) only, and uncorrelated
    across names and seeds (|r| < 4/sqrt(n)); entity 0 is not special."""
    seed = rng.fixed_seed(7, "channel.a.coverage")
    assert seed == rng.fixed_seed(7, "channel.a.coverage")
    u = _fixed_units(seed, N)
    assert u.min() >= 0.0 and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 4 * math.sqrt(1 / 12 / N)
    assert abs(u.var() - 1 / 12) < 4 * math.sqrt((1 / 80 - 1 / 144) / N)
    counts, _ = np.histogram(u, bins=20, range=(0, 1))
    chi2 = float(((counts - N / 20) ** 2 / (N / 20)).sum())
    assert chi2 < 19 + 4 * math.sqrt(2 * 19)
    for other in (rng.fixed_seed(7, "channel.b.coverage"), rng.fixed_seed(8, "channel.a.coverage")):
        v = _fixed_units(other, N)
        assert abs(np.corrcoef(u, v)[0, 1]) < 4 / math.sqrt(N)
        assert (u == v).mean() < 1e-3
    # neighbouring entities are uncorrelated too (lag-1 serial correlation)
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 4 / math.sqrt(N)
    # the array form (for tests and analyses) gives the kernels' draws
    assert np.array_equal(rng.fixed_uniform(7, "channel.a.coverage", np.arange(N)), u)
