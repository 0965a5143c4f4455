"""How much memory a run will need, estimated from its scenario before anything is allocated.

The model (documented in docs/results.md, "Memory model") follows a run's three
phases. What lives throughout: the interpreter and compiled kernels and the
population columns (29 B a person; freed once the per-person table is built, after
the results phase's peak), less the 20 B of them the day loop does not read, which
wait on disk while it runs. On top of it, the largest of:

* **building**: the contact layers the run reads (4 B a stored directed edge plus
  4 B a person a layer, or 4 B a person for a drawn layer; layers no rule reads are not
  built) and a transient allowance for building the population and contacts (200 B a
  person, about the peak measured);
* **the day loop**: the contact layers, the plan's per-person tables (regions,
  groups, class codes, graphs that join several layers), the day-loop state per
  entity (scores per view, both worlds' income and losses, outcome counters, list,
  watchlist and flag state), the list slots (29 B for each entity on a list or
  waiting for a review of it, and 4 B for each member of a list kept per region,
  allowed for 5 % of entities per list, with room for the arrays' doubling) and the
  records (12 B each, counted for the expected number: the arrays are sized 10 % over
  it, and pages never written cost nothing; records a channel delays wait in a pool,
  25 B each, twice the number waiting at a time);
* **the end of the day loop**: the same without the records, which a run writing a
  results folder frees first, and with the columns the end state derives from the
  state (16 B a person; the rest of it are views);
* **the results**: the end state (the state's per-person arrays it views, 100 B a
  person; the rest of the state, the records, the plan's arrays and the contact
  layers are freed before the result tables are built, since a results folder holds
  no records) and the result tables built from it (32 B a person: the per-person
  table shares the end state's numeric arrays).

Expected records are ``people x sum over behaviours of rate (per day) x days x
the sum of coverage x detection`` over the channels that observe each behaviour
(each channel records an act on its own; records past their retention are
deleted but not freed, so they count).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

from scorelab.engine import layout

#: Bytes per person of the population columns (docs/population.md), and of those the day loop
#: does not read, which wait on disk while it runs (synth.population.PARKABLE).
POPULATION_BYTES = 29
PARKED_BYTES = 20
#: Transient bytes per person while the population and contact layers are built.
BUILD_TRANSIENT_BYTES = 200
#: Bytes per person of the end state handed back (scores, incomes, counters, list membership):
#: views of the day-loop state's arrays, which outlive it, plus a few derived columns
#: (93 measured for Rongcheng and national-2027, firms' part of the viewed arrays included).
END_STATE_BYTES = 104
#: Of which the derived columns (income lost, employment, list membership, the distinct
#: channels and domains holding data about the person), new arrays.
END_STATE_DERIVED_BYTES = 20
#: Bytes per person of the result tables (people, groups, score distributions) while built,
#: over the end state they share: the per-person table's own columns (person, age, names,
#: flags: 12 B; occupation and income decile: 2 B) and the transients of the lookups, the
#: per-cell grouping and the impact table's per-axis grouping, rounded up (the results phase
#: measured 135 B/person marginal with the population and end state).
RESULT_BYTES = 36
#: Bytes per stored directed edge in a CSR layer (int32 index).
EDGE_BYTES = 4
#: Bytes per person of a drawn contact layer (synth.drawn: participants' order, 4 B each, and
#: their bits; measured 3.9 for friends and 2.7 for online in Rongcheng).
DRAWN_BYTES = 4
#: Bytes per record in the engine's record columns, as a run writing a results folder keeps
#: them (without the actor and step, which only records handed back need: 20 bytes with them).
RECORD_BYTES = 12
#: Bytes per record waiting in the pool of delayed records (engine.simulation.POOL_COLUMNS).
POOL_BYTES = 25
#: Bytes per list slot (an entity on a list or waiting for a review of it: list, entity,
#: listing step, chain and calendar links, pending mark, place among a list's members, cause
#: of the listing and the wrongful sanctions it drove), and
#: the slots allowed per entity and list (Rongcheng's year uses 0.024 per entity and list;
#: the arrays grow by doubling).
SLOT_BYTES = 29
SLOTS_PER_ENTITY_LIST = 0.05
#: Fixed overhead: interpreter, numba, compiled kernels, libraries.
FIXED_BYTES = 400 * 2**20
#: Share of available memory a run may plan to use.
HEADROOM = 0.9
#: The parts alive throughout a run, and those of each phase (the peak is the largest phase).
#: The contact layers and the plan are freed before the result tables are built.
#: The population's columns the day loop does not read wait on disk while it runs
#: (``Population.parked``): they count in the other phases only.
RESIDENT = ("fixed", "population", "per-step series")
PHASES = {
    "building": ("population, parked", "contacts", "building (transient)"),
    "day loop": ("contacts", "plan", "day-loop state", "list slots", "records"),
    # (a run writing a results folder frees the records before the end state derives its columns)
    "end of the day loop": ("contacts", "plan", "day-loop state", "list slots", "end state, derived"),
    "results": ("population, parked", "end state", "result tables"),
}


@dataclass
class Estimate:
    """Bytes a run is expected to need, by part; the peak is the resident parts plus the
    largest phase (``PHASES``)."""

    people: int
    parts: dict[str, int] = field(default_factory=dict)

    def phase(self, name: str) -> int:
        return int(sum(self.parts.get(k, 0) for k in PHASES[name]))

    @property
    def peak_phase(self) -> str:
        return max(PHASES, key=self.phase)

    @property
    def total(self) -> int:
        return int(sum(self.parts.get(k, 0) for k in RESIDENT) + self.phase(self.peak_phase))

    def describe(self) -> str:
        parts = ", ".join(f"{k} {human(v)}" for k, v in self.parts.items())
        return f"{parts}; peak in the {self.peak_phase}"


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
    from scorelab.scenario.model import layers_read

    s = scenario
    n = int(s.population.people)
    firms = max(1, n // 15)
    entities = n + firms
    days = float(s.run.days + s.run.burn_in)  # (records of a burn-in stay in the state)
    n_lists, n_flags = len(s.lists), len(s.flags)
    if s.scoring.scheme == "points":
        dims = 1
    else:
        dims = max(1, len(s.scoring.dimensions))
    # a pair of score views per distinct domain set a consequence may use, under purpose limitation
    domain_sets = {tuple(sorted(k.domains)) for k in s.consequences.values() if k.domains is not None}
    views = 2 + (2 * len(domain_sets) if s.safeguards.purpose_limitation else 0)
    caps = sum(1 for r in getattr(s.scoring, "rules", []) or [] if getattr(r, "cap_per_year", None) is not None)
    social = s.scoring.social is not None and s.scoring.social.weight > 0
    association = s.scoring.association
    # lists whose members are kept in slots: the lists of consequences by list alone
    members = {x for k in s.consequences.values() if k.lists and not k.grades for x in k.lists}
    regions = max(1, len(s.population.regions or ()))
    sizes = layout.Sizes(  # the day-loop state's arrays (engine.layout.STATE), as the plan would size them
        people=n, firms=firms, views=views, dims=dims, caps=caps, lists=n_lists, flags=n_flags,
        channels=len(s.channels), grades=len(s.grades), regions=regions, consequences=len(s.consequences),
        behaviours=len(s.behaviours), signatures=regions, member_lists=len(members),
        steps=int(math.ceil(days / float(s.run.step))), retentions=len(s.channels), social=social,
        association=association is not None,
    )

    read = layers_read(s)
    layers = {
        "household": s.contacts.household,
        "workplace": s.contacts.workplace,
        "school": s.contacts.school,
        "friends": s.contacts.friends,
        "online": s.contacts.online,
    }
    drawn = {k for k, v in layers.items() if k in read and getattr(v, "storage", "stored") == "drawn"}
    # (a drawn layer stores no edges: its degree counts for no stored edge below)
    degree = {k: 0.0 if k in drawn else _layer_degree(v) for k, v in layers.items() if k in read}
    stored = {k: d for k, d in degree.items() if k != "household" and k not in drawn}  # households are id ranges
    contacts = (sum(d * n * EDGE_BYTES + n * 4 for d in stored.values()) + ("household" in degree) * n * 2
                + len(drawn) * n * DRAWN_BYTES)

    # the plan: regions, groups, income ranks, scored flags, one byte per distinct set of static
    # conditions (at most one per behaviour), and for each graph that joins several layers its
    # row starts and a copy of its edges (a single layer is read in place); the social term's
    # row starts are int64 copies
    graphs = set()
    for c in s.channels.values():
        m = c.misattribution
        if m.target == "contacts" and m.probability > 0 and m.layer != "household":
            graphs.add((m.layer,) if m.layer else tuple(degree))
    social_graph = tuple(x for x in s.scoring.social.layers if x in degree) if social else None
    unions = sum(sum(degree.get(x, 0.0) for x in g) * n * EDGE_BYTES + 4 * n
                 for g in graphs | {social_graph} - {None} if len(g) > 1)
    conditions = {repr((b.actor, b.min_age, [m.when for m in b.modifiers])) for b in s.behaviours.values()
                  if b.modifiers or b.min_age > 0}
    # (regions and groups 2 B each, scored 1, household starts; income ranks, 4 B, only for an
    # index dimension with an income term)
    ranks = s.scoring.scheme != "points" and any(d.income != 0 for d in s.scoring.dimensions.values())
    plan = n * (7 + len(conditions) + (8 if social else 0) + (4 if ranks else 0)) + unions
    if association is not None:  # its weighted graph: row starts, contacts, two amounts per edge
        plan += n * 8 + sum(degree.get(x, 0.0) for x in association.layers) * n * (4 + 8 + 8)

    detect: dict[str, float] = {}
    waiting = 0.0  # records a person has waiting in the pool at a time
    for c in s.channels.values():
        for b in c.observes:
            seen = float(c.coverage) * float(c.detection)  # records per act
            detect[b] = detect.get(b, 0.0) + seen
            waiting += float(s.behaviours[b].rate) * min(float(c.delay), days) * seen if b in s.behaviours else 0.0
    per_person_records = sum(float(b.rate) * days * detect.get(name, 0.0) for name, b in s.behaviours.items())
    records = n * per_person_records

    parts = {
        "fixed": FIXED_BYTES,
        "population": n * (POPULATION_BYTES - PARKED_BYTES) + firms * 15,
        "population, parked": n * PARKED_BYTES,
        "contacts": contacts,
        "building (transient)": n * BUILD_TRANSIENT_BYTES,
        "plan": plan,
        "day-loop state": layout.fixed_bytes(sizes),
        # list slots, and members of lists kept per region (4 B each, segments and their array
        # grown by doubling)
        "list slots": entities * SLOTS_PER_ENTITY_LIST * (n_lists * 2 * SLOT_BYTES + len(members) * 4 * 4),
        "records": records * RECORD_BYTES + 2 * n * waiting * POOL_BYTES,
        # per-step metrics of each region, sampled person and group with loans (engine.layout:
        # REGION_COLUMNS, TRAJECTORY_COLUMNS, LENDING_COLUMNS), float64, and their tables
        "per-step series": 2 * 8 * sizes.steps * (regions * len(layout.REGION_COLUMNS)
                                                  + min(s.run.trajectories, n) * len(layout.TRAJECTORY_COLUMNS)
                                                  + _lending_groups(s) * len(layout.LENDING_COLUMNS)),
        "end state, derived": n * END_STATE_DERIVED_BYTES,
        "end state": n * END_STATE_BYTES,
        "result tables": n * RESULT_BYTES,
    }
    return Estimate(people=n, parts={k: int(v) for k, v in parts.items()})


def release() -> None:
    """Hand the heap's free memory back to the system (glibc's ``malloc_trim``; nothing where
    there is none). Arrays under glibc's mmap threshold (32 MiB at most: a few million
    people's columns) are carved from the heap, and freeing them leaves their pages resident,
    out of reach of the next phase's tables (polars has its own allocator)."""
    import ctypes

    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass


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


def needed(est: Estimate, workers: int = 1, processes: bool = False) -> int:
    """Bytes a run needs on this machine, split over ``workers`` (``engine.sharded``): each
    worker holds its own regions' part of the state, records and end state, so threads of one
    process (``processes`` False) need the run once; local Ray actors each hold the fixed part
    besides (an interpreter, the kernels), and Ray's object store a copy of the population,
    contacts and plan, which the actors read in place."""
    if workers <= 1 or not processes:
        return est.total
    p = est.parts
    return est.total + workers * p["fixed"] + p["population"] + p["contacts"] + p["plan"]


def check(scenario: Any, workers: int = 1, processes: bool = False) -> tuple[Estimate, int, int | None, bool]:
    """(estimate, bytes needed, available bytes, fits) for a run on this machine split over
    ``workers`` threads, or over that many local Ray actors (``processes``; ``needed``)."""
    est = estimate(scenario)
    need = needed(est, workers, processes)
    avail = available()
    fits = avail is None or need <= HEADROOM * avail
    return est, need, avail, fits


def _lending_groups(s: Any) -> int:
    """The groups counted by lending by group: the population's, when a people's consequence
    is a loan (service 'loans') and the system runs (engine.plan.consequences)."""
    loans = any(c.service == "loans" and c.actor == "person" for c in s.consequences.values())
    return len(s.population.groups) if loans and s.scoring.enabled else 0


def process_memory() -> dict[str, int]:
    """This process's memory now (bytes, from ``/proc/self/status``; empty elsewhere): peak
    resident (``VmHWM``), and resident now that is its own (``RssAnon``) or shared memory
    mapped in, such as Ray's object store (``RssShmem``)."""
    found = {}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmHWM", "RssAnon", "RssShmem"):
                    found[key] = int(value.split()[0]) * 1024
    except OSError:
        pass
    return found
