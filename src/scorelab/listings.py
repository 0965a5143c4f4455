"""Listings on black- and redlists, people's apart from firms': pure functions of a run's tables,
as ``metrics`` (which lists them in its catalogue and headline).

Each list counts its own entities in ``lists.<name>.*`` (people on a list of people, firms on a
list of firms). A firm's legal representative listed jointly with the firm (``joint_punishment``)
is a person on a list of firms: those listings count in ``joint_listings.<name>.*``, so that a
figure read as people's (wrongful listings, person-days wrongfully listed, the red-listed) holds
people only and the firms' figures hold firms only. Formulas: docs/metrics.md.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from scorelab import vocabulary as V
from scorelab.tables import RunTables, as_run_tables
from scorelab.tables import metric_last as _last, metric_max as _max, metric_total as _total

__all__ = ["coarse_figures", "corrections", "list_flows", "lists", "whose", "wrongful_listings_held"]

#: Columns of the lists table (``lists``) and of the flows (``list_flows``)
FLOWS = ("stock", "entries", "exits", "wrongful_entries")


def _step_days(r: RunTables) -> float:
    return float(r.manifest.get("step_days", 1.0))


def _blocks(r: RunTables) -> list[tuple[str, str, bool, str]]:
    """(list, whose listings: "person" or "firm", joint, column prefix) for every block of list
    columns of the run: each list's own, then the joint listings of the firms' representatives."""
    names = r.names
    own = [(name, actor, False, f"lists.{name}") for name, actor in names["lists"].items()]
    joint = [(name, "person", True, f"joint_listings.{name}") for name in names.get("joint_lists", [])]
    return own + joint


def whose(r: Any, actor: str, red: bool) -> list[str]:
    """Column prefixes of the listings of ``actor`` ("person": people on lists of people and
    firms' representatives listed jointly; "firm") on the black (``red`` false) or red lists."""
    r = as_run_tables(r)
    reds = set(r.names.get("red_lists", []))
    return [prefix for name, who, _, prefix in _blocks(r) if who == actor and (name in reds) == red]


def corrections(r: Any) -> pl.DataFrame:
    """What the safeguards corrected (one row): records removed on appeal and deleted (expiry,
    retention); people's listings lifted because what listed them was removed or the listing was
    appealed (``listings_overturned``, of which ``listings_appealed``); of their wrongful
    listings, those lifted, the mean days they had stood (error to correction), the wrongful
    sanctions they had driven until then, those still standing at the end and the people-days
    spent wrongfully listed; the same of firms' listings (``firm_*``); flags withdrawn from the
    queue and investigations overturned. Blacklists only: a red listing is no sanction (its
    wrongful ones are in ``metrics.rewards``)."""
    r = as_run_tables(r)
    people, firms = whose(r, "person", False), whose(r, "firm", False)

    def over(prefixes: list[str], x: str) -> float:
        return sum(_total(r, f"{p}.{x}") for p in prefixes)

    def at_end(prefixes: list[str], x: str) -> int:
        return int(sum(_last(r, f"{p}.{x}") for p in prefixes))

    lifted = over(people, "wrongful_overturned")
    flags_ = list(r.names["flags"])
    row = {
        "records_removed_appeal": int(_total(r, "records_removed.appeal")),
        "records_deleted": int(_total(r, "records_removed.deleted")),
        "listings_overturned": int(over(people, "overturned")),
        "listings_appealed": int(over(people, "appealed")),
        "wrongful_listings_overturned": int(lifted),
        "days_to_correction_mean": over(people, "wrongful_days_overturned") / lifted if lifted else None,
        "wrongful_sanctions_before_correction": int(over(people, "wrongful_sanctions_overturned")),
        "wrongful_listings_at_end": at_end(people, "wrongful_stock"),
        "people_days_wrongfully_listed": over(people, "wrongful_stock") * _step_days(r),
        "firm_listings_overturned": int(over(firms, "overturned")),
        "firm_wrongful_listings_overturned": int(over(firms, "wrongful_overturned")),
        "firm_wrongful_sanctions_before_correction": int(over(firms, "wrongful_sanctions_overturned")),
        "firm_wrongful_listings_at_end": at_end(firms, "wrongful_stock"),
        "firm_days_wrongfully_listed": over(firms, "wrongful_stock") * _step_days(r),
        "flags_withdrawn": int(sum(_total(r, f"flags.{f}.withdrawn") for f in flags_)),
        "investigations_overturned": int(sum(_total(r, f"flags.{f}.investigations_overturned") for f in flags_)),
    }
    schema = {k: pl.Float64 if k in ("days_to_correction_mean", "people_days_wrongfully_listed",
                                     "firm_days_wrongfully_listed") else pl.Int64 for k in row}
    return pl.DataFrame([row], schema=schema)


def wrongful_listings_held(r: Any, actor: str = "person") -> int:
    """Wrongful black listings of ``actor`` ("person" or "firm") that stood at some time in the
    run: the wrongful stock after its first step and those entered after it (one entered and
    lifted within the first step is missed). The days wrongfully listed are a sum over these."""
    r = as_run_tables(r)
    m = r.metrics
    if not m.height:
        return 0
    n = 0
    for prefix in whose(r, actor, False):
        if f"{prefix}.wrongful_stock" in m.columns:
            n += int(m.get_column(f"{prefix}.wrongful_stock")[0])
            n += int(m.get_column(f"{prefix}.wrongful_entries").slice(1).sum())
    return n


def lists(r: Any) -> pl.DataFrame:
    """Each black- or redlist's listings of its own entities (``joint`` false: people or firms,
    as ``actor``) and, for a list of firms with joint punishment, those of the firms'
    representatives (``joint`` true, actor "person"): entries, exits (of which overturned: lifted
    because what listed the entity was removed or the listing was appealed), wrongful entries
    over the run; stock at the end of the first step, at the end, and its maximum; wrongful
    listings at the end and the entity-days spent wrongfully listed."""
    r = as_run_tables(r)
    rows = []
    m = r.metrics
    for name, actor, joint, p in _blocks(r):
        stock = f"{p}.stock"
        first = float(m.get_column(stock)[0]) if stock in m.columns and m.height else 0.0
        rows.append((name, actor, joint, int(_total(r, f"{p}.entries")), int(_total(r, f"{p}.exits")),
                     int(_total(r, f"{p}.overturned")), int(_total(r, f"{p}.wrongful_entries")),
                     int(first), int(_last(r, stock)), int(_max(r, stock)), int(_last(r, f"{p}.wrongful_stock")),
                     _total(r, f"{p}.wrongful_stock") * _step_days(r)))
    return pl.DataFrame(rows, schema={"list": pl.String, "actor": pl.String, "joint": pl.Boolean, "entries": pl.Int64,
                                      "exits": pl.Int64, "overturned": pl.Int64, "wrongful_entries": pl.Int64,
                                      "stock_first": pl.Int64, "stock_end": pl.Int64, "stock_max": pl.Int64,
                                      "wrongful_stock_end": pl.Int64, "wrongful_days": pl.Float64}, orient="row")


def list_flows(r: Any) -> pl.DataFrame:
    """Per step and list (its own entities' listings, and the joint ones apart, as ``lists``):
    stock at the end of the step, entries, exits, wrongful entries."""
    r = as_run_tables(r)
    parts = [r.metrics.select("day", pl.lit(name).alias("list"), pl.lit(joint).alias("joint"),
                              *[pl.col(f"{p}.{x}").alias(x) for x in FLOWS])
             for name, _, joint, p in _blocks(r)]
    if not parts:
        return pl.DataFrame(schema={"day": pl.Float64, "list": pl.String, "joint": pl.Boolean,
                                    **{x: pl.Float64 for x in FLOWS}})
    return pl.concat(parts)


def _mean_stock(r: RunTables, names: list[str]) -> float:
    m = r.metrics
    cols = [f"lists.{x}.stock" for x in names if f"lists.{x}.stock" in m.columns]
    return float(sum(m.get_column(c).mean() or 0.0 for c in cols)) if cols and m.height else 0.0


def coarse_figures(r: Any) -> dict[str, str]:
    """Headline figures that rest on a list of few simulated entities, each standing for many
    (the population's ``represents``): such a figure varies from run to run far more than its own
    count's Poisson noise says, and ``vocabulary.few_events``, which reads the count, cannot tell.
    Face identification's false alerts scale with the watchlist's size, and the sanctions of
    employees for their employer's rating with the firms listed: below ``vocabulary.FEW_EVENTS``
    simulated members on average, figure -> why."""
    r = as_run_tables(r)
    data = r.scenario_data or {}
    out: dict[str, str] = {}
    watchlists = sorted({str(c["identification"].get("watchlist")) for c in (data.get("channels") or {}).values()
                         if isinstance(c, dict) and isinstance(c.get("identification"), dict)})
    if watchlists:
        w = _mean_stock(r, watchlists)
        if w < V.FEW_EVENTS:
            why = f"a watchlist of {w:.1f} simulated people on average"
            out |= {f: why for f in (V.BYSTANDERS_STOPPED, V.ALERTS_PER_THOUSAND_FACES)}
    employer = any(isinstance(k, dict) and k.get("through") == "employer" for k in (data.get("consequences") or {}).values())
    firm_lists = [x for x, actor in r.names["lists"].items() if actor == "firm"]
    if employer and firm_lists:
        f = _mean_stock(r, firm_lists)
        if f < V.FEW_EVENTS:
            why = f"{f:.1f} firms listed on average"
            out |= {x: why for x in (V.SANCTIONS_FOR_EMPLOYER, V.EMPLOYEES_LAID_OFF_FOR_EMPLOYER,
                                      V.WAGE_CUTS_FOR_EMPLOYER)}
    return out
