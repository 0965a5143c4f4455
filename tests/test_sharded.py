"""Sharded runs: regions split over workers give the single-process run byte for byte
(in-process workers for 1-4 shards, Ray actors through the public API), with messages
really crossing regions; bad shard counts fail with one line."""

from __future__ import annotations

import copy
import filecmp

import numpy as np
import pytest

import scorelab
from scorelab.engine import sharded
from scorelab.engine.checkpoint import Checkpoint, folder_for
from scorelab.errors import UsageError
from scorelab.synth.contacts import Contacts
from scorelab.engine.sharded import assign_regions, simulate_sharded
from scorelab.engine.simulation import simulate
from test_checkpoint import Stop, one_line_error, stop_at
from test_engine_invariants import RICH

# Every mechanism of the rich case, over four cities in two provinces, half the friendships
# across cities and frequent misattribution: many effects cross regions every day.
FOUR_CITIES = copy.deepcopy(RICH)
FOUR_CITIES["population"]["regions"] = [
    {"province": "P", "city": "A", "share": 0.3}, {"province": "P", "city": "B", "share": 0.2},
    {"province": "Q", "city": "C", "share": 0.3}, {"province": "Q", "city": "D", "share": 0.2}]
FOUR_CITIES["contacts"]["friends"]["same_city"] = 0.5
FOUR_CITIES["channels"]["police"]["misattribution"]["probability"] = 0.2
# false matches put records on anyone, often in another city; face search reads the
# watchlist's national size, which every worker gets as the step starts
FOUR_CITIES["channels"]["police"]["false_match_rate"] = 0.05
FOUR_CITIES["channels"]["cameras"].pop("regions")
FOUR_CITIES["run"]["days"] = 120
# a burn-in ends at step 35, where the checkpoint test below saves and resumes
FOUR_CITIES["run"]["burn_in"] = "35 days"
# corrections cross regions too: a lifted listing of a firm ends its representative's joint
# listing, a withdrawn flag leaves the national queue
FOUR_CITIES["safeguards"]["appeals"]["listings"] = {"contested": 0.5, "success": 1.0, "delay": "15 days"}


def assert_same(a, b) -> None:
    assert a.metrics.keys() == b.metrics.keys() and a.people.keys() == b.people.keys()
    for k in a.metrics:
        assert np.array_equal(a.metrics[k], b.metrics[k], equal_nan=True), k
        assert a.metrics[k].dtype == b.metrics[k].dtype
    for k in a.people:
        assert np.array_equal(a.people[k], b.people[k], equal_nan=True), k
        assert a.people[k].dtype == b.people[k].dtype
    # records are stored per worker: the same records, in another order
    cols = sorted(a.records)
    ra = np.stack([a.records[c].astype(np.int64) for c in cols])
    rb = np.stack([b.records[c].astype(np.int64) for c in cols])
    assert ra.shape == rb.shape
    assert np.array_equal(ra[:, np.lexsort(ra)], rb[:, np.lexsort(rb)])


@pytest.fixture(scope="module")
def four_cities():
    sc = scorelab.load(copy.deepcopy(FOUR_CITIES))
    pop, contacts = scorelab.build_population(sc)
    return sc, pop, contacts, simulate(sc, pop, contacts)


def test_the_case_exercises_every_crossing(four_cities):
    sc, pop, contacts, out = four_cities
    m = out.metrics
    assert out.total("records.", ".misattributed") > 500
    assert out.total("records.", ".false_match") > 20  # false matches, over regions
    assert m["identification.cameras.false_alerts"].sum() > 20  # face search on bystanders
    assert m["identification.cameras.hits"].sum() > 0
    assert m["flags.suspicious.investigated"].sum() > 50
    assert m["lists.firm_black.entries"].sum() > 10 and m["joint_listings.firm_black.entries"].sum() > 10  # (joint punishment)
    assert out.total("consequences.", ".association") > 0  # the social and association terms move grades
    assert m["association.marked_down"].max() > 100 and m["association.marked_up"].max() > 100
    assert out.total("lists.", ".overturned") > 10  # corrections lift listings
    assert out.total("lists.", ".appealed") > 0
    assert out.total("flags.", ".investigations_overturned") + out.total("flags.", ".withdrawn") > 0


@pytest.mark.parametrize("shards", [1, 2, 3, 4])
def test_any_number_of_shards_gives_the_single_process_run(four_cities, shards, monkeypatch):
    sc, pop, contacts, whole = four_cities
    kinds: list[np.ndarray] = []
    real = sharded._Driver.exchange

    def counting(self, s, outboxes):
        kinds.extend(box[0][:, 0] for box in outboxes)
        return real(self, s, outboxes)

    monkeypatch.setattr(sharded._Driver, "exchange", counting)
    part = simulate_sharded(sc, pop, contacts, shards, backend="local")
    assert_same(whole, part)
    sent = np.bincount(np.concatenate(kinds), minlength=6)
    # social-term changes, records, investigations and association-term changes all crossed
    # (joint listings cannot: representatives work, hence live, in their firm's city)
    assert sent[[0, 1, 4, 5]].min() > 0, sent


@pytest.mark.parametrize("shards", [2, 3])
def test_workers_with_plans_of_their_own_regions_give_the_single_process_run(four_cities, shards, monkeypatch):
    """Each worker compiles the plan of its own regions' entities alone (as on a Ray cluster):
    what a kernel would read of another region's entity there reads zero, so any such read
    would show here."""
    sc, pop, contacts, whole = four_cities
    compiled = []
    real = sharded.ShardWorker.__init__

    def init(self, *args, **kwargs):
        real(self, *args, **kwargs)
        compiled.append(self.plan.params)

    monkeypatch.setattr(sharded.ShardWorker, "__init__", init)
    assert_same(whole, simulate_sharded(sc, pop, contacts, shards, backend="local", divide="plan"))
    assert len(compiled) == shards and len({id(P) for P in compiled}) == shards  # (a plan each)
    # (each holds its own entities' cities only: together, every entity's once)
    everyone = sharded.setup(sc, pop, contacts)[0].params.ent_city
    assert sum(np.count_nonzero(P.ent_city) for P in compiled) == np.count_nonzero(everyone) > 0


@pytest.mark.parametrize("shards", [2, 3])
def test_workers_building_their_own_cities_give_the_single_process_run(four_cities, shards):
    """Each worker builds its cities' people, contacts and plan alone with the others (as on a
    Ray cluster), and learns its halo's starting points from their workers; the driver builds
    no contact layer (``scorelab run`` on a cluster gives it none)."""
    sc, pop, contacts, whole = four_cities
    part = simulate_sharded(sc, pop, Contacts({}), shards, backend="local", divide="cities")
    assert_same(whole, part)
    # the driver's plan holds no entity: its queues find regions from the regions' ranges
    P = part.plan.params
    assert not P.ent_city.any() and not P.ent_scored.any() and P.as_idx.size == 0 and P.soc_idx.size == 0
    assert np.array_equal(P.reg_p0, whole.plan.params.reg_p0) and np.array_equal(P.tr_ids, whole.plan.params.tr_ids)


def test_what_the_workers_hold_follows_where_they_run():
    """Shared on one machine, built by cities on a cluster, the plan alone where a drawn layer
    is read (not built by cities yet); a bad choice is refused in one line."""
    sc = scorelab.load(copy.deepcopy(FOUR_CITIES), {"population.people": 2000})
    drawn = scorelab.load(copy.deepcopy(FOUR_CITIES), {  # (misattribution to contacts reads every layer)
        "population.people": 2000, "contacts.online.enabled": True, "contacts.online.storage": "drawn"})
    assert [sharded.divide_for(sc, *where, None) for where in (("local", None), ("threads", None), ("ray", None))] == [
        "shared"] * 3
    assert sharded.divide_for(sc, "ray", "ray://head:10001", None) == "cities"
    assert sharded.divide_for(drawn, "ray", "ray://head:10001", None) == "plan"
    # (the driver of a run on a cluster builds no contact layer where its actors build their own)
    from scorelab.runner import layers_built
    assert [layers_built(x, *where) for x, where in ((sc, (2, "ray://head:10001")), (sc, (2, None)),
                                                      (sc, (None, None)), (drawn, (2, "ray://head:10001")))] == [
        "none", "read", "read", "read"]
    # an index scheme's income term ranks everyone: on a cluster each actor builds everything
    ranked = scorelab.load("zhima-index", {"population.people": 2000, "population.regions": [
        {"province": "Zhejiang", "city": "Hangzhou", "share": 0.6}, {"province": "Zhejiang", "city": "Ningbo", "share": 0.4}]})
    assert sharded.divide_for(ranked, "ray", "ray://head:10001", None) == "shared"
    for bad, choice, needle in ((drawn, "cities", "drawn contact layer"), (sc, "everything", "one of shared, plan, cities"),
                                (ranked, "plan", "income term")):
        with pytest.raises(UsageError) as err:
            sharded.divide_for(bad, "local", None, choice)
        assert needle in str(err.value) and "\n" not in str(err.value)


def test_a_preset_sharded_in_process():
    sc = scorelab.load("rongcheng-2018", {"population.people": 6000, "run.days": 90,
                                          "scoring.social": {"weight": 0.3, "layers": ["friends", "online"]}})
    pop, contacts = scorelab.build_population(sc)
    assert_same(simulate(sc, pop, contacts), simulate_sharded(sc, pop, contacts, 5, backend="local"))


def test_regions_are_split_into_balanced_contiguous_runs():
    owner = assign_regions(np.array([10, 10, 10, 10, 40, 10, 10]), 3)
    assert owner.tolist() == sorted(owner.tolist()) and set(owner.tolist()) == {0, 1, 2}
    assert assign_regions(np.array([5]), 1).tolist() == [0]


def test_sharded_on_ray_writes_the_same_bytes(ray_session, tmp_path):
    """Two Ray actors through ``scorelab.run(shards=2)``: the results folder's Parquet files
    equal those of the single-process run."""
    sc = scorelab.load(copy.deepcopy(FOUR_CITIES), {"run.days": 60, "population.people": 4000})
    scorelab.run(sc, out=tmp_path / "a" / "run", people_state=True)
    scorelab.run(sc, out=tmp_path / "b" / "run", people_state=True, shards=2)
    for f in ("metrics.parquet", "groups.parquet", "scores.parquet", "people.parquet", "regions.parquet",
              "trajectories.parquet"):
        assert filecmp.cmp(tmp_path / "a" / "run" / f, tmp_path / "b" / "run" / f, shallow=False), f


def test_ray_actors_with_their_own_regions_give_the_single_process_run(ray_session):
    """Ray actors each compiling the plan of their own regions from the facts of everyone the
    driver sends them, then each building its own cities with the others as well (what they
    do on a cluster), requests and answers passed from actor to actor."""
    sc = scorelab.load(copy.deepcopy(FOUR_CITIES), {"run.days": 60, "population.people": 4000})
    pop, contacts = scorelab.build_population(sc)
    whole = simulate(sc, pop, contacts)
    for divide in ("plan", "cities"):
        assert_same(whole, simulate_sharded(sc, pop, contacts, 2, backend="ray", divide=divide))


def test_more_shards_than_the_rays_cpus_fail_with_one_line_instead_of_waiting(ray_session):
    """An actor needs a CPU: on a Ray of 2 CPUs, 3 shards would wait for ever for the third."""
    sc = scorelab.load(copy.deepcopy(FOUR_CITIES), {"run.days": 5, "population.people": 2000})
    pop, contacts = scorelab.build_population(sc)
    with pytest.raises(UsageError) as err:
        simulate_sharded(sc, pop, contacts, 3, backend="ray")
    message = str(err.value)
    assert "3 actors need a CPU each" in message and "has 2" in message and "\n" not in message


def test_bad_shard_requests_fail_with_one_line(tmp_path):
    one_line_error(["run", "corporate", "--shards", "2", "--out", str(tmp_path / "r")], "at most 1 shard(s)")
    one_line_error(["run", "rongcheng-2018", "--shards", "0"], "--shards: must be at least 1")
    one_line_error(["run", "rongcheng-2018", "--address", "auto"], "only with --shards")
    one_line_error(["run", "--resume", str(tmp_path / "r"), "--shards", "2"], "drop --shards")
    assert not (tmp_path / "r").exists()


def test_shards_on_this_machine_must_fit_in_memory(tmp_path, monkeypatch):
    """On a local Ray every actor is a process of its own besides its regions' state, and
    Ray's store holds a copy of the population and plan: 4 shards of a run that fits in one
    process need more, and the command says so before any work."""
    from scorelab import memory

    sc = scorelab.load("rongcheng-2018")
    est = memory.estimate(sc)
    four = memory.needed(est, 4, processes=True)
    assert four > est.total
    monkeypatch.setattr(memory, "available", lambda: int((est.total + four) / 2 / memory.HEADROOM))
    one_line_error(["run", "rongcheng-2018", "--shards", "4", "--out", str(tmp_path / "r")], "each of the 4 actors")
    assert not (tmp_path / "r").exists()


def test_a_sharded_run_resumes_from_its_checkpoint(four_cities, tmp_path):
    """Three in-process shards saving every 7 steps, stopped at step 40 and resumed from the
    save at 35: the single-process run's output."""
    sc, pop, contacts, whole = four_cities
    data = sc.model_dump(mode="json", by_alias=True)
    ck = Checkpoint.create(tmp_path / "ck", 7, data, {"shards": 3})
    with pytest.raises(Stop):
        simulate_sharded(sc, pop, contacts, 3, backend="local", checkpoint=ck, progress=stop_at(40))
    assert sorted(p.name for p in (tmp_path / "ck" / "step-000000035").iterdir()) == [
        "national.npz", "state-0.npz", "state-1.npz", "state-2.npz"]
    steps = []
    part = simulate_sharded(sc, pop, contacts, 3, backend="local", checkpoint=Checkpoint.open(tmp_path / "ck")[0],
                            progress=lambda done, total: steps.append(done))
    assert steps[0] == 36 and part.first_step == 35
    assert_same(whole, part)
    with pytest.raises(scorelab.UsageError, match="another split"):
        simulate_sharded(sc, pop, contacts, 2, backend="local", checkpoint=Checkpoint.open(tmp_path / "ck")[0])


def test_workers_building_their_own_cities_resume_from_a_checkpoint(four_cities, tmp_path):
    """Stopped and resumed as on a cluster (each worker building its own cities again, then
    putting its saved part back): the single-process run's output."""
    sc, pop, _, whole = four_cities
    ck = Checkpoint.create(tmp_path / "ck", 7, sc.model_dump(mode="json", by_alias=True), {"shards": 2})
    with pytest.raises(Stop):
        simulate_sharded(sc, pop, Contacts({}), 2, backend="local", divide="cities", checkpoint=ck,
                         progress=stop_at(40))
    part = simulate_sharded(sc, pop, Contacts({}), 2, backend="local", divide="cities",
                            checkpoint=Checkpoint.open(tmp_path / "ck")[0])
    assert part.first_step == 35
    assert_same(whole, part)


def _resumed_matches_the_single_process(tmp_path, **split) -> scorelab.Result:
    """A four-city run split as ``split`` says (shards or threads), stopped after its save at step
    20 and resumed: the single-process run's results files, byte for byte."""
    sc = scorelab.load(copy.deepcopy(FOUR_CITIES), {"run.days": 40, "population.people": 3000})
    scorelab.run(sc, out=tmp_path / "a" / "run", people_state=True)
    out = tmp_path / "b" / "run"
    with pytest.raises(Stop):
        scorelab.run(sc, out=out, people_state=True, checkpoint_every=10, progress=stop_at(25), **split)
    assert {"national.npz", "state-1.npz"} <= {p.name for p in (folder_for(out) / "step-000000020").iterdir()}
    resumed = scorelab.resume(out)
    assert resumed.manifest["resumed_from_step"] == 20
    for f in ("metrics.parquet", "groups.parquet", "scores.parquet", "people.parquet", "regions.parquet",
              "trajectories.parquet"):
        assert filecmp.cmp(tmp_path / "a" / "run" / f, out / f, shallow=False), f
    return resumed


def test_a_sharded_ray_run_resumed_writes_the_single_process_bytes(ray_session, tmp_path):
    _resumed_matches_the_single_process(tmp_path, shards=2)


def test_a_plan_from_read_only_arrays_has_the_same_kernel_types() -> None:
    """Ray hands its workers the population and contacts as read-only arrays (its object
    store); the plan must have the same numba types as from writable ones, so that the kernels
    compile once for both (a second set of specialisations costs minutes in every worker)."""
    import pickle

    import numba

    from scorelab.engine.plan import compile_plan

    sc = scorelab.load("rongcheng-2018", {"population.people": 4000, "contacts.friends.storage": "drawn"})
    pop, con = scorelab.build_population(sc)
    buffers: list = []
    data = pickle.dumps((pop, con), protocol=5, buffer_callback=buffers.append)
    pop_ro, con_ro = pickle.loads(data, buffers=[b.raw().toreadonly() for b in buffers])
    assert not pop_ro.city.flags.writeable
    ours, theirs = compile_plan(sc, pop, con).params, compile_plan(sc, pop_ro, con_ro).params
    assert numba.typeof(theirs) == numba.typeof(ours)


@pytest.mark.parametrize("threads", [2, 3, 4])
def test_any_number_of_threads_gives_the_single_process_run(four_cities, threads, monkeypatch):
    """Threads are shards in one process, each worker's calls on a thread of its own (the
    kernels release the GIL): the same output as one process, byte for byte."""
    import threading

    sc, pop, contacts, whole = four_cities
    seen: set[int] = set()
    real = sharded.ShardWorker.local

    def local(self, s, l_stock):
        seen.add(threading.get_ident())
        return real(self, s, l_stock)

    monkeypatch.setattr(sharded.ShardWorker, "local", local)
    assert_same(whole, simulate_sharded(sc, pop, contacts, threads, backend="threads"))
    assert len(seen) > 1 and threading.get_ident() not in seen


def test_a_threaded_run_resumes_to_the_single_process_bytes(tmp_path):
    """``scorelab.run(threads=2)`` resumes with its two threads (the split is kept in the
    checkpoint), and its manifest says so."""
    assert _resumed_matches_the_single_process(tmp_path, threads=2).manifest["threads"] == 2


def test_threads_by_default_and_bad_thread_requests(tmp_path, monkeypatch):
    """By default every core the process may use from AUTO_THREADS_PEOPLE people, one below; at
    most one thread per region; bad requests fail with one line before any work."""
    monkeypatch.setattr(sharded, "available_cores", lambda: 8)
    big = scorelab.load("national-2027", scale=sharded.AUTO_THREADS_PEOPLE / 1.41e9)
    small = scorelab.load("national-2027", scale=0.5 * sharded.AUTO_THREADS_PEOPLE / 1.41e9)
    assert big.population.people >= sharded.AUTO_THREADS_PEOPLE > small.population.people
    assert (sharded.threads_for(big, None), sharded.threads_for(small, None), sharded.threads_for(small, 3)) == (8, 1, 3)
    assert sharded.threads_for(scorelab.load("corporate"), 4) == 1  # (one city)
    one_line_error(["run", "rongcheng-2018", "--threads", "0"], "--threads: must be at least 1")
    one_line_error(["run", "rongcheng-2018", "--threads", "2", "--shards", "2"], "not with --shards")
    one_line_error(["run", "--resume", str(tmp_path / "r"), "--threads", "2"], "drop --threads")
    assert not (tmp_path / "r").exists()
