"""Tests for scorelab.synth.contacts: CSR invariants, degree distributions,
block mixing, layer membership, determinism and chunking.

Statistical tests use 4-sigma tolerances (a false alarm about once in 16,000
checks) plus, where said, a small allowance for the edges lost to duplicate
and self-loop removal, which the Chung-Lu expectations ignore.
"""

from __future__ import annotations

import numpy as np
import pytest

from scorelab.scenario.population import (
    ContactsSpec,
    LognormalDegree,
    NegativeBinomialDegree,
    PoissonDegree,
    PopulationSpec,
    RegionSpec,
    SocialLayerSpec,
)
from scorelab.synth.contacts import (
    CSRLayer,
    HouseholdLayer,
    build_contacts,
    chung_lu,
    expected_within_block_share,
    layer_weights,
    within_block_share,
)
from scorelab.synth.population import build_population

SEED = 3


def _pop_spec(people: int) -> PopulationSpec:
    return PopulationSpec(
        people=people,
        regions=[
            RegionSpec(province="Shandong", city="Rongcheng", share=0.4),
            RegionSpec(province="Shandong", city="Weihai", share=0.35),
            RegionSpec(province="Jiangsu", city="Suqian", share=0.25, group_shares={"majority": 0.6, "minority": 0.4}),
        ],
    )


@pytest.fixture(scope="module")
def pop():
    return build_population(_pop_spec(100_000), SEED)


@pytest.fixture(scope="module")
def contacts(pop):
    return build_contacts(pop, ContactsSpec(), SEED)


def _check_csr(indptr: np.ndarray, indices: np.ndarray, n: int) -> None:
    assert indptr.shape == (n + 1,) and indptr[0] == 0 and indptr[-1] == indices.size
    assert indices.dtype == np.int32
    assert indptr.dtype == (np.int32 if indices.size < 2**31 else np.int64)
    assert np.all(np.diff(indptr) >= 0)
    if indices.size == 0:
        return
    assert indices.min() >= 0 and indices.max() < n
    src = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
    dst = indices.astype(np.int64)
    assert not np.any(src == dst), "self-loop"
    same_row = src[1:] == src[:-1]
    assert np.all(dst[1:][same_row] > dst[:-1][same_row]), "rows must be strictly increasing (sorted, no duplicates)"
    fwd = np.sort(src * n + dst)
    bwd = np.sort(dst * n + src)
    assert np.array_equal(fwd, bwd), "not symmetric"


def test_every_layer_is_a_valid_undirected_csr(pop, contacts):
    """Every layer (household materialised too) is symmetric, sorted, without self-loops or duplicates,
    with int32 indices in range and the smallest indptr dtype that fits."""
    assert contacts.names == ("household", "workplace", "school", "friends", "online")
    for name in contacts:
        layer = contacts[name]
        indptr, indices = layer.to_csr()
        _check_csr(indptr, indices, pop.n)
        assert layer.n_edges * 2 == indices.size
        assert np.array_equal(layer.degree(), np.diff(indptr))
        i = int(np.argmax(layer.degree()))
        assert np.array_equal(np.sort(layer.neighbors(i)), indices[indptr[i]:indptr[i + 1]])


def test_memory_is_int32_both_directions(contacts, pop):
    """A CSR layer holds exactly 8 bytes per undirected edge plus one int32 indptr entry per person;
    the implicit household layer holds one int32 per household."""
    for name in ("workplace", "school", "friends", "online"):
        layer = contacts[name]
        assert layer.nbytes() == 8 * layer.n_edges + 4 * (pop.n + 1)
    assert contacts["household"].nbytes() == 4 * (pop.n_households + 1)


def test_household_layer_is_complete_within_households(pop, contacts):
    """Household neighbours are exactly the other members of the household."""
    h = contacts["household"]
    assert isinstance(h, HouseholdLayer)
    for i in (0, 1, pop.n // 2, pop.n - 1):
        members = np.flatnonzero(pop.household == pop.household[i])
        assert np.array_equal(h.neighbors(i), members[members != i])
    sizes = np.diff(pop.household_start)
    assert np.array_equal(h.degree(), np.repeat(sizes - 1, sizes))


def _edge_ends(layer: CSRLayer) -> tuple[np.ndarray, np.ndarray]:
    return np.repeat(np.arange(layer.n), np.diff(layer.indptr)), layer.indices


def test_layer_membership(pop, contacts):
    """Workplace edges join coworkers of one firm (same_employer = 1); school edges join students of one
    school; online edges join internet users; friends are at least min_age."""
    s, d = _edge_ends(contacts["workplace"])
    assert (pop.employer[s] >= 0).all() and np.array_equal(pop.employer[s], pop.employer[d])
    s, d = _edge_ends(contacts["school"])
    assert (pop.school[s] >= 0).all() and np.array_equal(pop.school[s], pop.school[d])
    same_class = np.mean(pop.age[s] == pop.age[d])
    # same_class = 0.8 of stubs, plus chance coincidences in the school mode, minus the extra duplicates
    # removed inside small classes: well above the share of same-age pairs among schoolmates (~0.1)
    assert same_class > 0.7
    s, d = _edge_ends(contacts["online"])
    assert pop.internet[s].all() and pop.internet[d].all()
    s, _ = _edge_ends(contacts["friends"])
    assert (pop.age[s] >= ContactsSpec().friends.min_age).all()


@pytest.mark.parametrize(
    "degree",
    [PoissonDegree(mean=8.0), NegativeBinomialDegree(mean=10.0, dispersion=2.0), LognormalDegree(mean=6.0, sigma=0.8)],
    ids=lambda d: d.distribution,
)
def test_degree_is_mixed_poisson(degree):
    """With global mixing, degree has mean E[w] and variance E[w] + Var[w] (mixed Poisson).
    Mean: 4 sigma with sigma = sqrt(2 * sum w) / n (the stub total is Poisson), plus 0.01 for dedup losses.
    Variance: 4 sigma with sigma = sqrt((m4 - s^4) / n) from the sample, plus 1% for dedup losses and the
    weak dependence between degrees."""
    n = 100_000
    w = layer_weights(n, np.ones(n, dtype=bool), degree, SEED, "test")
    assert abs(w.mean() / degree.mean - 1) < 0.05
    layer = chung_lu(w, [(1.0, None)], SEED, "test")
    k = layer.degree().astype(np.float64)
    mean_sigma = np.sqrt(2 * w.sum()) / n
    assert abs(k.mean() - w.mean()) <= 4 * mean_sigma + 0.01
    theory_var = w.mean() + w.var()
    s2 = k.var()
    m4 = np.mean((k - k.mean()) ** 4)
    assert abs(s2 - theory_var) <= 4 * np.sqrt((m4 - s2**2) / n) + 0.01 * theory_var, (s2, theory_var)


def test_negative_binomial_weights_have_theoretical_variance():
    """Gamma weights for the negative binomial have variance mean^2 / dispersion (4 sigma via the gamma's 4th moment)."""
    n = 100_000
    d = NegativeBinomialDegree(mean=10.0, dispersion=2.0)
    w = layer_weights(n, np.ones(n, dtype=bool), d, SEED, "test")
    var = d.mean**2 / d.dispersion
    # Var of the sample variance of a gamma(k, theta): (mu4 - var^2) / n with mu4 = 3 var^2 (1 + 2/k)
    sigma = np.sqrt((3 * var**2 * (1 + 2 / d.dispersion) - var**2) / n)
    assert abs(w.var() - var) <= 4 * sigma


@pytest.mark.parametrize("a", [0.0, 0.5, 0.9])
def test_within_block_share_matches_closed_form(a):
    """The share of edges inside a block is a + (1 - a) * sum_b (W_b / W)^2: 4 sigma binomial over edges
    plus 0.003 for dedup losses (duplicates are likelier inside blocks)."""
    n = 100_000
    w = layer_weights(n, np.ones(n, dtype=bool), NegativeBinomialDegree(mean=8.0, dispersion=3.0), SEED, "test")
    u = np.random.default_rng(0).random(n)  # test fixture only: block labels
    block = np.searchsorted([0.4, 0.7, 0.9], u).astype(np.int32)
    layer = chung_lu(w, [(a, block), (1 - a, None)], SEED, "test")
    expected = expected_within_block_share(w, block, a)
    observed = within_block_share(layer, block)
    sigma = np.sqrt(expected * (1 - expected) / layer.n_edges)
    assert abs(observed - expected) <= 4 * sigma + 0.003, (observed, expected)


def test_friends_city_assortativity_matches_closed_form(pop):
    """For the friends layer with same_group = 0, the share of same-city friendships follows the closed form
    with the layer's own weights (4 sigma binomial over edges plus 0.003 for dedup losses)."""
    spec = ContactsSpec(
        friends=SocialLayerSpec(degree=PoissonDegree(mean=10.0), same_city=0.6, same_group=0.0),
        workplace={"enabled": False}, school={"enabled": False}, online=ContactsSpec().online.model_copy(update={"enabled": False}),
        household=False,
    )
    c = build_contacts(pop, spec, SEED)
    assert c.names == ("friends",)
    w = layer_weights(pop.n, pop.age >= 0, spec.friends.degree, SEED, "friends")
    expected = expected_within_block_share(w, pop.city.astype(np.int64), 0.6)
    layer = c["friends"]
    observed = within_block_share(layer, pop.city)
    assert abs(observed - expected) <= 4 * np.sqrt(expected * (1 - expected) / layer.n_edges) + 0.003


def test_group_homophily_raises_same_group_share(pop, contacts):
    """Default friends (same_group 0.5) have more same-group edges than a layer without group homophily."""
    s, d = _edge_ends(contacts["friends"])
    with_h = np.mean(pop.group[s] == pop.group[d])
    spec = ContactsSpec(friends=ContactsSpec().friends.model_copy(update={"same_group": 0.0}))
    c = build_contacts(pop, spec, SEED)
    s, d = _edge_ends(c["friends"])
    assert with_h > np.mean(pop.group[s] == pop.group[d]) + 0.02


def test_workplace_degree_in_large_firms(pop, contacts):
    """In firms of 100+ employees the mean coworker degree is close to the spec mean (8):
    within 5% (small firms and duplicates pull it down slightly)."""
    big = pop.firms.size >= 100
    m = (pop.employer >= 0) & big[np.maximum(pop.employer, 0)]
    k = contacts["workplace"].degree()[m]
    assert abs(k.mean() / 8.0 - 1) < 0.05


def _assert_same_contacts(a, b) -> None:
    assert a.names == b.names
    for name in a:
        pa, ia = a[name].to_csr()
        pb, ib = b[name].to_csr()
        assert pa.tobytes() == pb.tobytes() and ia.tobytes() == ib.tobytes(), name


def test_same_seed_is_byte_identical(pop, contacts):
    """Building the contacts again with the same seed gives byte-identical layers."""
    _assert_same_contacts(contacts, build_contacts(pop, ContactsSpec(), SEED))


def test_different_seeds_differ(pop, contacts):
    """A different seed gives different friends and online layers."""
    other = build_contacts(pop, ContactsSpec(), SEED + 1)
    for name in ("friends", "online", "workplace"):
        assert not np.array_equal(other[name].indices[:1000], contacts[name].indices[:1000])


def test_chunks_do_not_change_contacts():
    """Population and contacts built in 8 chunks are byte-identical to 1 chunk (every layer)."""
    spec = _pop_spec(30_000)
    p1 = build_population(spec, 21, chunks=1)
    p8 = build_population(spec, 21, chunks=8)
    _assert_same_contacts(build_contacts(p1, ContactsSpec(), 21, chunks=1), build_contacts(p8, ContactsSpec(), 21, chunks=8))


def test_empty_and_disabled_layers():
    """A layer with mean degree 0 is empty but valid; disabled layers are absent."""
    p = build_population(PopulationSpec(people=2_000), 1)
    spec = ContactsSpec(
        friends=SocialLayerSpec(degree=PoissonDegree(mean=0.0), same_city=0.5, same_group=0.5),
        online=ContactsSpec().online.model_copy(update={"enabled": False}),
    )
    c = build_contacts(p, spec, 1)
    assert "online" not in c and c["friends"].n_edges == 0
    _check_csr(*c["friends"].to_csr(), p.n)


def test_a_layer_is_the_same_whichever_others_are_built(pop, contacts):
    """Building only some layers (as a run builds only those its rules read) gives exactly
    those layers, byte-identical to the same layers of a full build: each has its own streams."""
    some = build_contacts(pop, ContactsSpec(), SEED, only={"household", "online"})
    assert sorted(some.layers) == ["household", "online"]
    assert np.array_equal(some["household"].household_start, contacts["household"].household_start)
    for a, b in zip(some["online"].to_csr(), contacts["online"].to_csr()):
        assert np.array_equal(a, b)
    assert not build_contacts(pop, ContactsSpec(), SEED, only=set()).layers
