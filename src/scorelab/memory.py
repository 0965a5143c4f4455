"""How much memory a run will need, estimated from its scenario before anything is allocated.

The model (documented in docs/results.md, "Memory model") counts bytes per person,
per stored contact edge and per record, each term an upper-leaning estimate of
the arrays the population builder, the contact builder and the day loop keep:

* per person: population columns (29 B), contact indptr arrays (4 B per CSR
  layer), day-loop state per entity (scores per view and dimension, both
  worlds' income and losses, outcome counters, list and flag state), the
  per-person end state copied out at the end (about 100 B), and a transient
  allowance for building the population and contacts (about 200 B, the peak
  measured by ``benchmarks/bench_population.py``);
* per stored directed edge: 4 B in each contact layer, plus 4 B again for each
  union graph the plan materialises (social term, misattribution to contacts);
* per record: 52 B of record columns, with 10 % room (the record arrays are sized
  from the expected count and handed back as views; a run that outgrows them doubles
  them, which this does not count).

Expected records are ``people x sum over behaviours of rate (per day) x days x
max detection`` of the channels that observe each behaviour (records past their
retention are deleted but not freed, so they count).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

#: Bytes per person of the population columns (docs/population.md).
POPULATION_BYTES = 29
#: Transient bytes per person while the population and contact layers are built.
BUILD_TRANSIENT_BYTES = 200
#: Bytes per person of the end state handed back (scores, incomes, counters, list membership).
END_STATE_BYTES = 100
#: Bytes per stored directed edge in a CSR layer (int32 index).
EDGE_BYTES = 4
#: Bytes per record in the engine's record columns.
RECORD_BYTES = 52
#: Fixed overhead: interpreter, numba, compiled kernels, libraries.
FIXED_BYTES = 400 * 2**20
#: Share of available memory a run may plan to use.
HEADROOM = 0.9


@dataclass
class Estimate:
    """Bytes a run is expected to need, by part."""

    people: int
    parts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return int(sum(self.parts.values()))

    def describe(self) -> str:
        return ", ".join(f"{k} {human(v)}" for k, v in self.parts.items())


def human(n: float) -> str:
    """Bytes as a short human-readable figure (binary units)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} PiB"  # pragma: no cover


def _layer_degree(layer: Any) -> float:
    """Mean contacts per participant of a layer spec (0 if disabled)."""
    if layer is None or layer is False:
        return 0.0
    if layer is True:  # household: complete graph on households of mean size ~2.6
        return 2.0
    if not getattr(layer, "enabled", True):
        return 0.0
    degree = getattr(layer, "degree", None)
    return float(getattr(degree, "mean", 10.0) or 0.0)


def estimate(scenario: Any) -> Estimate:
    """Estimate the peak memory of running ``scenario`` (a validated Scenario)."""
    s = scenario
    n = int(s.population.people)
    firms = max(1, n // 15)
    entities = n + firms
    days = float(s.run.days)
    n_lists, n_flags = len(s.lists), len(s.flags)
    if s.scoring.scheme == "points":
        dims = 1
    else:
        dims = max(1, len(s.scoring.dimensions))
    views = 2 + 2 * len({tuple(sorted(k.domains)) for k in s.consequences.values() if k.domains is not None})
    caps = sum(1 for r in getattr(s.scoring, "rules", []) or [] if getattr(r, "cap_per_year", None) is not None)

    per_entity = (
        views * dims * 8  # raw scores per view and dimension
        + 16 + 8 + 1  # social sums, total, grade
        + caps * 12
        + 6 * 8 + 1  # income, losses, money in both worlds; employed
        + n_lists * (1 + 4 + 8 + 1 + 8)  # on_list, listed_since, calendar, pending, watchlist slots
        + n_flags * (4 + 1 + 1 + 4)  # queue, truth, queued, last flag
        + 9 * 4 + 8  # outcome counters, record list head
        + 8  # grade buckets (member and position)
        + len(s.behaviours) + len(s.consequences)  # rate classes
    )
    layers = {
        "household": s.contacts.household,
        "workplace": s.contacts.workplace,
        "school": s.contacts.school,
        "friends": s.contacts.friends,
        "online": s.contacts.online,
    }
    directed = sum(_layer_degree(v) for v in layers.values()) * n
    unions = 0
    if s.scoring.social is not None and s.scoring.social.weight > 0:
        unions += 1
    if any(c.misattribution.target == "contacts" for c in s.channels.values()):
        unions += 1

    detect: dict[str, float] = {}
    for c in s.channels.values():
        for b in c.observes:
            detect[b] = max(detect.get(b, 0.0), float(c.detection))
    per_person_records = sum(float(b.rate) * days * detect.get(name, 0.0) for name, b in s.behaviours.items())
    records = n * per_person_records

    parts = {
        "fixed": FIXED_BYTES,
        "population": n * POPULATION_BYTES + firms * 15,
        "building (transient)": n * BUILD_TRANSIENT_BYTES,
        "contacts": int(directed * EDGE_BYTES) + n * 4 * len(layers),
        "contact unions": int(unions * (directed * EDGE_BYTES + n * 8)),
        "day-loop state": entities * per_entity,
        "records": int(records * RECORD_BYTES * 1.1),
        "end state": n * END_STATE_BYTES,
    }
    return Estimate(people=n, parts={k: int(v) for k, v in parts.items()})


def available() -> int | None:
    """Bytes this process may still allocate: ``SCORELAB_MEMORY`` if set (bytes, or with a
    K/M/G/T suffix), else MemAvailable from /proc/meminfo, else available physical pages
    (os.sysconf); None when unknown."""
    env = os.environ.get("SCORELAB_MEMORY")
    if env:
        return parse_bytes(env)
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def parse_bytes(text: str) -> int:
    """``"512M"`` -> 536870912; plain integers are bytes."""
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    mult = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    if t and t[-1] in mult:
        return int(float(t[:-1]) * mult[t[-1]])
    return int(float(t))


def check(scenario: Any, copies: int = 1) -> tuple[Estimate, int | None, bool]:
    """(estimate, available bytes, fits) for ``copies`` runs' worth of memory on this machine
    (a sharded run on a local Ray holds the whole run in the driver and in every actor)."""
    est = estimate(scenario)
    avail = available()
    fits = avail is None or copies * est.total <= HEADROOM * avail
    return est, avail, fits
