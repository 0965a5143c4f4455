"""Drawn contact layers (scorelab.synth.drawn): the laws of degree and mixing against theory,
exactness of the weighted draw above and below the cap, determinism, and the day loop's
misattribution landing on drawn contacts.

Statistical checks use 4-sigma tolerances from the Poisson or binomial variance they state.
"""

from __future__ import annotations

import numpy as np
import pytest

import scorelab
from scorelab.engine.sharded import simulate_sharded
from scorelab.engine.simulation import simulate
from scorelab.errors import ScenarioError
from scorelab.scenario.population import (
    LognormalDegree,
    NegativeBinomialDegree,
    PopulationSpec,
    RegionSpec,
    SocialLayerSpec,
)
from scorelab.synth.contacts import expected_within_block_share, layer_weights, participants
from scorelab.synth.drawn import DrawnLayer, drawn_layer
from scorelab.synth.population import build_population

SEED = 5


@pytest.fixture(scope="module")
def pop():
    return build_population(PopulationSpec(people=120_000, regions=[
        RegionSpec(province="P", city="A", share=0.5),
        RegionSpec(province="P", city="B", share=0.3, group_shares={"majority": 0.7, "minority": 0.3}),
        RegionSpec(province="Q", city="C", share=0.2, group_shares={"majority": 0.4, "minority": 0.6}),
    ]), SEED)


def _spec(**kw) -> SocialLayerSpec:
    base = dict(degree=NegativeBinomialDegree(mean=10.0, dispersion=2.0), same_city=0.7, same_group=0.4,
                min_age=6, storage="drawn")
    return SocialLayerSpec(**(base | kw))


def _weights(pop, name, spec):
    return layer_weights(pop.n, participants(pop, name, spec), spec.degree, SEED, name)


def test_degree_is_poisson_of_the_stored_layers_weight(pop):
    spec = _spec()
    layer = drawn_layer(pop, "friends", spec, SEED)
    w = _weights(pop, "friends", spec)
    d = layer.degree().astype(np.float64)
    assert np.all(d[w == 0.0] == 0)  # non-participants (under 6) have no contacts
    # given the weights, sum d is Poisson(sum w)
    assert abs(d.sum() - w.sum()) < 4 * np.sqrt(w.sum())
    # mixed Poisson: Var d = E w + Var w (within 5 %: the sample variance of a gamma mixture)
    part = w > 0
    assert d[part].var() == pytest.approx(w[part].mean() + w[part].var(), rel=0.05)
    assert layer.n_edges == int(d.sum())


def test_partners_are_drawn_in_proportion_to_weight_below_and_above_the_cap(pop):
    # one city and group mode only would hide the cells; anyone-mixing with a heavy tail puts
    # many participants above the cap, so both the rejection and the excess draw are exercised
    spec = _spec(degree=LognormalDegree(mean=12.0, sigma=1.5), same_city=0.0, same_group=0.0)
    layer = drawn_layer(pop, "online", spec, SEED)
    w = _weights(pop, "online", spec)
    ptr, idx = layer.to_csr()
    indeg = np.bincount(idx, minlength=pop.n).astype(np.float64)
    heavy = np.zeros(pop.n, dtype=bool)
    heavy[layer.tables.hid] = True
    assert 0.01 < heavy.sum() / (w > 0).sum() < 0.2
    # E[in-degree of p] = w_p (sum over actors of d_e w_p / W, less e's own draw): check the
    # sums over the participants above the cap, below it, and by weight quartile
    scale = (ptr[-1] - 0.0) / w.sum()  # realised draws over expected (self draws dropped)
    groups = [heavy, (w > 0) & ~heavy] + [
        (w > lo) & (w <= hi) for lo, hi in zip(*(lambda q: (q[:-1], q[1:]))(np.quantile(w[w > 0], [0, .25, .5, .75, 1])))]
    for g in groups:
        expected = w[g].sum() * scale
        assert abs(indeg[g].sum() - expected) < 4 * np.sqrt(expected) + 1, (g.sum(), indeg[g].sum(), expected)
    assert indeg[w == 0].sum() == 0  # non-participants are never drawn


def test_mixing_modes_give_the_stored_layers_within_city_and_group_shares(pop):
    spec = _spec()
    layer = drawn_layer(pop, "friends", spec, SEED)
    w = _weights(pop, "friends", spec)
    ptr, idx = layer.to_csr()
    src = np.repeat(np.arange(pop.n), np.diff(ptr))
    city, group = pop.city.astype(np.int64), pop.group.astype(np.int64)
    # expected share per actor e in cell (c, g): the four modes' chances of a partner in e's city
    # and group, weighted by e's draws (E d_e = w_e)
    W = w.sum()
    Wc = np.bincount(city, weights=w)
    Wg = np.bincount(group, weights=w)
    Wcg = np.zeros((Wc.size, Wg.size))
    np.add.at(Wcg, (city, group), w)
    c, g = spec.same_city, spec.same_group
    p_city = c + (1 - c) * g * Wcg[city, group] / Wg[group] + (1 - c) * (1 - g) * Wc[city] / W
    p_group = g + c * (1 - g) * Wcg[city, group] / Wc[city] + (1 - c) * (1 - g) * Wg[group] / W
    for measured, p in ((city[src] == city[idx], p_city), (group[src] == group[idx], p_group)):
        expected = float(np.sum(w * p) / W)
        n = measured.size
        assert abs(measured.mean() - expected) < 4 * np.sqrt(expected * (1 - expected) / n) + 2e-3, (measured.mean(), expected)
    # one partition with global mixing otherwise: the closed form of the stored layer
    spec1 = _spec(same_group=0.0)
    ptr1, idx1 = drawn_layer(pop, "friends", spec1, SEED).to_csr()
    src1 = np.repeat(np.arange(pop.n), np.diff(ptr1))
    share = float(np.mean(city[src1] == city[idx1]))
    assert share == pytest.approx(expected_within_block_share(w, pop.city.astype(np.int64), 0.7), abs=5e-3)


def test_a_persons_contacts_are_fixed_and_do_not_depend_on_chunks(pop):
    spec = _spec()
    one = drawn_layer(pop, "friends", spec, SEED, chunks=1)
    many = drawn_layer(pop, "friends", spec, SEED, chunks=7)
    for a, b in zip(one.tables, many.tables):
        assert np.array_equal(a, b)
    ptr, idx = one.to_csr()
    for i in (0, 17, 4_321, pop.n - 1):
        assert np.array_equal(one.neighbors(i), idx[ptr[i]:ptr[i + 1]])
        assert np.array_equal(one.neighbors(i), one.neighbors(i))
        assert i not in one.neighbors(i)
    assert one.nbytes() < 6 * pop.n  # the participants' order and their bits, not the edges


def test_build_contacts_draws_the_layers_asked_and_stores_the_others(pop):
    from scorelab.scenario.population import ContactsSpec

    spec = ContactsSpec(friends=_spec(storage="stored"), online=_spec(degree=LognormalDegree(mean=20.0)))
    c = scorelab.synth.build_contacts(pop, spec, SEED, only={"friends", "online"})
    assert isinstance(c["online"], DrawnLayer) and not isinstance(c["friends"], DrawnLayer)
    assert c["online"].nbytes() < c["friends"].nbytes() / 10


def _rongcheng(storage: str, **extra):
    return scorelab.load("rongcheng-2018", {
        "population.people": 8000, "run.days": 120,
        "contacts.friends.storage": storage, "contacts.online.storage": storage,
        "channels.religious_affairs_office.misattribution.probability": 0.5,
        "channels.cyberspace_office.misattribution.probability": 0.5, **extra})


def test_the_day_loop_misattributes_to_drawn_contacts():
    sc = _rongcheng("drawn")
    pop, contacts = scorelab.build_population(sc)
    assert isinstance(contacts["friends"], DrawnLayer) and isinstance(contacts["online"], DrawnLayer)
    out = simulate(sc, pop, contacts)
    r = out.records
    names = out.plan.channel_names
    for channel, layer in (("religious_affairs_office", "friends"), ("cyberspace_office", "online")):
        mis = (r["chan"] == names.index(channel)) & (r["err"] == 1)
        assert mis.sum() > 30, channel
        for subj, actor in zip(r["subj"][mis], r["actor"][mis]):
            assert subj in contacts[layer].neighbors(int(actor))
    # the stored layers' run misattributes about as often (the same weights; 4 sigma, Poisson)
    stored = simulate(sc_stored := _rongcheng("stored"), *scorelab.build_population(sc_stored))
    a, b = out.total("records.", ".misattributed"), stored.total("records.", ".misattributed")
    assert abs(a - b) < 4 * np.sqrt(a + b)


def test_a_sharded_run_with_drawn_layers_is_the_single_process_run():
    from test_sharded import assert_same  # (pytest puts the tests folder on the path)

    sc = _rongcheng("drawn", **{"run.days": 60})
    pop, contacts = scorelab.build_population(sc)
    assert_same(simulate(sc, pop, contacts), simulate_sharded(sc, pop, contacts, 3, backend="local"))


def test_the_social_term_refuses_a_drawn_layer():
    with pytest.raises(ScenarioError) as e:
        scorelab.load("rongcheng-2018", {"contacts.friends.storage": "drawn",
                                          "scoring.social": {"weight": 0.3, "layers": ["friends"]}})
    msg = str(e.value)
    assert "scoring.social.layers" in msg and "contacts.friends.storage" in msg and len(msg.splitlines()) == 1


def test_drawn_layers_cut_the_memory_estimate():
    from scorelab import memory

    stored = memory.estimate(scorelab.load("rongcheng-2018", {"population.people": 10**8}))
    drawn = memory.estimate(scorelab.load("rongcheng-2018", {"population.people": 10**8,
                                                             "contacts.friends.storage": "drawn",
                                                             "contacts.online.storage": "drawn"}))
    # friends (mean 10) and online (mean 20 among internet users) stored: 4 B a directed edge
    assert stored.parts["contacts"] - drawn.parts["contacts"] > 60 * 10**8
    assert drawn.parts["contacts"] < 12 * 10**8
