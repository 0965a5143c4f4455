"""Each per-person harm sums to its headline figure, on the presets.

The disparate-impact table and the per-1,000 rates read the per-person columns; the headline
and the verdict read the per-step counts. If the two disagree, a reader is told one number in
the summary and shown another's shares by group. Three such gaps were found and closed: a
firm's sanctions, and records about firms, counted in the headline's "sanctions" and "records"
(and so in their rates per 1,000 people) but in no person's column; and deterred wrongdoing
counted in people's "acts suppressed" (a harm) but not in the headline's "lawful acts
suppressed".
"""

from __future__ import annotations

import pytest

import polars as pl

import scorelab
from scorelab import metrics, vocabulary as V
from scorelab.scenario.model import is_sanction

#: per-person column -> headline figure it must sum to
SUMS = {
    "sanctions": V.SANCTIONS, "wrongful_sanctions": V.SANCTIONS_WRONGFUL,
    "association_sanctions": V.SANCTIONS_BY_ASSOCIATION, "false_flags": V.FLAGS_FALSE,
    "acts_suppressed": V.LAWFUL_ACTS_SUPPRESSED, "erroneous_records": V.RECORDS_ERRONEOUS,
    "income_lost": V.INCOME_LOST,
}

#: (preset, scale, days): small runs where the harms occur
RUNS = [("rongcheng-2018", 0.01, 200), ("national-2027", 0.00003, 200), ("corporate", 0.02, 730)]


@pytest.fixture(scope="module", params=RUNS, ids=[r[0] for r in RUNS])
def run(request):
    name, scale, days = request.param
    sc = scorelab.load(name, {"run.days": days}, scale=scale)
    return name, scorelab.run(sc, people_state=True)


def test_every_per_person_harm_sums_to_its_headline_figure(run):
    name, r = run
    head, people = r.summary(), r.people
    for column, figure in SUMS.items():
        total = float(people.get_column(column).sum())
        assert total == pytest.approx(float(head[figure]), rel=1e-9, abs=1e-6), (name, column, figure)
    flags = float(people.get_column("flags").sum())
    assert flags == head[V.FLAGS_TRUE] + head[V.FLAGS_FALSE], name
    assert (people.get_column("sanctions") > 0).sum() == head[V.PEOPLE_SANCTIONED], name
    if V.REWARDS in head:
        assert people.get_column("rewards").sum() == head[V.REWARDS], name
    if V.PEOPLE_SANCTIONED_FOR_OTHERS in head:  # (sanctions for a parent's or an employer's rating)
        linked = people.get_column("linked_sanctions")
        assert linked.sum() == head[V.CHILDREN_SANCTIONED_FOR_PARENTS] + head[V.SANCTIONS_FOR_EMPLOYER], name
        assert (linked > 0).sum() == head[V.PEOPLE_SANCTIONED_FOR_OTHERS], name


def test_the_regions_sanctions_and_records_sum_to_the_headline(run):
    """regions.parquet reads per 1,000 people: its sanctions, rewards and records are people's too."""
    name, r = run
    head, regions = r.summary(), r.regions
    assert float(regions.get_column("sanctions").sum()) == head[V.SANCTIONS], name
    assert float(regions.get_column("records_true").sum()) == head[V.RECORDS_TRUE], name
    assert float(regions.get_column("records_erroneous").sum()) == head[V.RECORDS_ERRONEOUS], name
    assert float(regions.get_column("sanctions_wrongful").sum()) == head[V.SANCTIONS_WRONGFUL], name
    if V.REWARDS in head:
        assert float(regions.get_column("rewards").sum()) == head[V.REWARDS], name


def test_peoples_listings_are_people(run):
    """The listings read as people's (the regions' listings, the red-listed, the wrongful
    listings) count people only: people on lists of people and firms' representatives listed
    with their firm; firms' listings are counted apart."""
    name, r = run
    head, people, lists = r.summary(), r.people, metrics.lists(r)
    on_lists = sum(int(people.get_column(f"listed.{x}").sum()) for x in r.names["lists"])
    theirs = lists.filter(pl.col("actor") == "person")
    assert int(theirs.get_column("stock_end").sum()) == on_lists, name
    last = r.regions.filter(pl.col("step") == r.regions.get_column("step").max())
    assert int(last.get_column("listings").sum()) == on_lists, name
    if V.RED_LISTED_AT_END in head:
        red = sum(int(people.get_column(f"listed.{x}").sum()) for x in r.names["red_lists"])
        assert head[V.RED_LISTED_AT_END] == red, name
    firm_lists = [x for x, a in r.names["lists"].items() if a == "firm"]
    assert (V.FIRM_WRONGFUL_LISTINGS_AT_END in head) == bool(firm_lists), name
    if firm_lists:
        firms = lists.filter((pl.col("actor") == "firm") & ~pl.col("list").is_in(r.names["red_lists"]))
        assert head[V.FIRM_WRONGFUL_LISTINGS_AT_END] == firms.get_column("wrongful_stock_end").sum(), name
        assert head[V.FIRM_DAYS_WRONGFULLY_LISTED] == pytest.approx(firms.get_column("wrongful_days").sum()), name


def test_plots_and_money_read_as_peoples_are_peoples(run):
    """The sanctions-over-time plots ("per 1,000 people") and the fines in economic_losses count
    people only; firms' fines are apart."""
    from scorelab import plots

    name, r = run
    head = r.summary()
    assert float(plots.sanctions_series(r)["applied"].sum()) == head[V.SANCTIONS], name
    losses = metrics.economic_losses(r).row(0, named=True)
    c = metrics.consequences(r).filter(pl.col("kind") == "fine")
    for firm, column in ((False, "fines"), (True, "firm_fines")):
        paid = -float(c.filter((pl.col("actor") == "firm") == firm).get_column("money").sum())
        assert losses[column] == pytest.approx(paid), (name, column)
    if name == "corporate":  # (firms are fined there, people are not)
        assert losses["firm_fines"] > 0 and losses["fines"] == 0


def test_figures_resting_on_a_few_simulated_list_members_are_said(run):
    """At a small scale a national watchlist is a person or two, each standing for 10,000 or more:
    the false alerts it drives vary far beyond their own count's noise, and few_events (which
    reads that count) cannot tell. coarse_figures names them, with the list's mean size."""
    from scorelab.listings import coarse_figures

    name, r = run
    coarse = coarse_figures(r)
    watchlists = {c.identification.watchlist for c in r.scenario.channels.values() if c.identification is not None}
    if not watchlists:
        assert V.BYSTANDERS_STOPPED not in coarse, name
        return
    mean = sum(float(r.metrics.get_column(f"lists.{w}.stock").mean()) for w in watchlists)
    assert (V.BYSTANDERS_STOPPED in coarse) == (mean < V.FEW_EVENTS), (name, mean)
    if name == "national-2027":  # (30 simulated people per 1,000,000: its watchlist is tiny)
        assert f"a watchlist of {mean:.1f} simulated people" in coarse[V.BYSTANDERS_STOPPED]


def test_firms_sanctions_are_reported_apart(run):
    name, r = run
    head = r.summary()
    # (records about firms too: all three presets observe some firm behaviour)
    assert V.FIRM_RECORDS_TRUE in head and head[V.RECORDS_TRUE] > 0, name
    every = sum(float(r.metrics.get_column(c).sum()) for c in r.metrics.columns
                if c.startswith("records.") and c.endswith(".true"))
    assert every == head[V.RECORDS_TRUE] + head[V.FIRM_RECORDS_TRUE], name
    firm_sanctions = any(c.actor == "firm" and is_sanction(c) for c in r.scenario.consequences.values())
    assert (V.FIRM_SANCTIONS in head) == firm_sanctions, name
    if name == "corporate":  # (firms are barred from bidding and fined there: their sanctions are counted)
        assert head[V.FIRM_SANCTIONS] > 0 and head[V.SANCTIONS] > 0


def test_firms_rewards_are_reported_apart_from_peoples():
    """A bonus to firms is no person's reward: "rewards" stays people's (their column's sum) and
    "rewards of firms" counts the firms'; a fine on firms likewise is in "sanctions of firms"."""
    from test_undefined_figures import NEVER_LIFTED

    data = {**NEVER_LIFTED, "name": "firms-rewarded", "population": {"people": 400}, "lists": {},
            "consequences": {
                "firm_bonus": {"kind": "bonus", "actor": "firm", "grades": ["A"], "amount": 10, "every": 1},
                "fine": {"kind": "fine", "grades": ["C"], "amount": 100, "every": 1},
                "person_bonus": {"kind": "bonus", "grades": ["A"], "amount": 1, "every": 30},
            },
            "run": {"days": 30, "seed": 5}}
    from scorelab import metrics
    from scorelab.sweep import headline_figures

    r = scorelab.run(data, people_state=True)
    head = r.summary()
    assert head[V.FIRM_REWARDS] > 0 and V.FIRM_SANCTIONS not in head
    people_rewards = r.people.get_column("rewards").sum()
    assert 0 < people_rewards == metrics.rewards(r).row(0, named=True)["rewards"]
    assert V.FIRM_REWARDS in headline_figures(r.scenario.model_dump(mode="json", by_alias=True))


def test_a_sweep_knows_the_headline_figures_in_their_order(run):
    """``sweep.headline_figures`` (what ``--figure`` accepts, read from the scenario alone) lists
    the run's numeric headline figures, firms' included, in the headline's order."""
    from scorelab.sweep import headline_figures

    name, r = run
    numeric = [k for k, v in r.summary().items() if not isinstance(v, str)]
    assert headline_figures(r.scenario.model_dump(mode="json", by_alias=True)) == numeric, name
