"""The day-loop state's arrays and the per-step metrics' columns, each written once.

``STATE`` is the one table from which the state is allocated (``engine.simulation``) and its
memory estimated before a run (``scorelab.memory``), so that the two cannot drift apart: a
shape is a function of the run's ``Sizes`` (people, firms, lists, flags, views...), which the
plan gives for a run and the scenario gives for an estimate. Arrays the kernels grow as they
fill (records, list slots, the outbox) start small; the estimate counts them apart, from the
expected records and listings.

The state's names are short, because the kernels read them on every line; each group of
``STATE`` says what it holds, and a name's prefix says its store: ``r_`` a record, ``p_`` a
delayed record in the pool, ``od_`` a record's points kept apart, ``ls_`` a list slot (an
entity's listing), ``la_`` a listing appeal, ``l_`` a list, ``w_`` the members of lists kept
per region, ``q_`` a flag's national queue, ``f_`` a flag, ``gb_`` the grade buckets,
``mb_`` the outbox of messages between regions, ``pf`` the pending flags, ``aq`` the
association term's fading queue, ``asc``/``amark`` the association term; ``_f``/``_t`` the
factual world and the twin.

The metric columns are blocks (``BLOCKS``, the kernels' ``MO_*``) of per-item columns (a
list's ``LIST_COLUMNS``, the kernels' ``LC_*``...): ``metric_layout`` names them for a plan,
and the kernels write them through named cells (``kernel.cells.list_cell`` ...), whose column
constants are numbered from the same tuples.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from scorelab.lazy_pages import lazy_zeros

__all__ = [
    "AGEING_COLUMNS", "ASSOCIATION_COLUMNS", "AUDIO_COLUMNS", "CLASSROOM_COLUMNS", "BLOCKS", "CONSEQUENCE_COLUMNS", "DATA_COLUMNS", "ERROR_NAMES",
    "FLAG_COLUMNS", "IDENTIFICATION_COLUMNS", "IDENTITY_COLUMNS", "LENDING_COLUMNS", "LEVEL_UNITS", "LIST_COLUMNS",
    "N_COUNTERS", "N_CURSORS", "N_OUTCOMES", "POOL_COLUMNS",
    "RECORD_COLUMNS", "REGION_COLUMNS", "REGION_STOCKS", "STATE", "TRAJECTORY_COLUMNS", "Array", "Sizes", "accumulated",
    "allocate", "fixed_bytes", "lazy_zeros", "metric_layout",
]

# 20 bytes a record; record ids (and the subject's chain) are int32. The step a record became
# visible follows from its id (kernel.stores.first_id), and its points as applied from its flags
# (kernel.stores.rec_delta): neither has a column.
RECORD_COLUMNS = {
    "r_subj": np.int32, "r_actor": np.int32, "r_beh": np.int16, "r_chan": np.uint8, "r_step": np.int32,
    # error, state, applied, appealed, and whether the points as applied are none, the rule's
    # or kept apart (kernel.constants.ERR_BITS, ..., kernel.stores.rec_delta)
    "r_flags": np.uint8, "r_prev": np.int32,
}
#: Record columns only the records handed back read (the day loop never does): a run that
#: keeps no records keeps them empty (12 bytes a record instead of 20).
IDENTITY_COLUMNS = ("r_actor", "r_step")
#: The pool of delayed records (made, not yet visible): a record id is given when a record
#: becomes visible, so the pool holds what a record is until then, in its channel's queue.
POOL_COLUMNS = {"p_subj": np.int32, "p_actor": np.int32, "p_beh": np.int16, "p_step": np.int32,
                "p_vis": np.int32, "p_flags": np.uint8, "p_next": np.int32}


#: Slots of the state's small arrays, whose meanings the kernels name: counters (``cnt``:
#: kernel.C_*), per-entity outcome counters (``out``: kernel.OUT_*), record walks' cursors
#: before the retention walks (``cur``: kernel.CUR_*)
N_COUNTERS = 14
N_OUTCOMES = 12
N_CURSORS = 3


class Sizes(NamedTuple):
    """What the state's shapes depend on."""

    people: int
    firms: int
    views: int  # score views: all records, true records, and a pair per purpose-limited domain set
    dims: int  # score dimensions (1 for a points scheme)
    caps: int  # point rules with a per-year cap
    lists: int
    flags: int
    channels: int
    grades: int
    regions: int
    consequences: int
    behaviours: int
    signatures: int  # distinct sets of channels covering a region
    member_lists: int  # lists whose members are kept per region
    steps: int
    retentions: int  # distinct record retentions (one expiry walk each)
    social: bool  # the social term (contacts' score sums)
    association: bool  # the association term

    @property
    def entities(self) -> int:
        return self.people + self.firms


class Array(NamedTuple):
    name: str
    dtype: type
    shape: Callable[[Sizes], tuple[int, ...]]
    fill: int | float = 0
    grown: bool = False  # replaced as it fills: by the kernels (kernel.GROWN_IN_KERNEL), the records before a step
    #: the axis that runs over entities (people first, then firms), if one does: a shard
    #: touches only its own entities' part of it (``allocate``)
    entity_axis: int | None = None


def _per_entity(name: str, dtype: type, shape: Callable[[Sizes], tuple[int, ...]], fill: int | float = 0) -> Array:
    """An array whose last axis runs over entities (or people, who come first)."""
    return Array(name, dtype, shape, fill, False, len(shape(Sizes(*([1] * 16), True, True))) - 1)


def _grown(name: str, dtype: type, shape: Callable[[Sizes], tuple[int, ...]] = lambda z: (0,)) -> Array:
    return Array(name, dtype, shape, 0, True)


STATE: tuple[Array, ...] = (
    # scores: raw points or dimension values per view, contacts' score sums (the social term),
    # the total score and grade, per-year caps (points so far, the year they count for)
    Array("raw", np.float64, lambda z: (z.views, z.entities, z.dims), entity_axis=1),
    _per_entity("soc", np.float64, lambda z: (2, z.people if z.social else 0)),
    _per_entity("total", np.float64, lambda z: (z.entities,)),
    _per_entity("grade", np.uint8, lambda z: (z.entities,)),
    _per_entity("cap_acc", np.float64, lambda z: (z.caps, z.entities)),
    _per_entity("cap_year", np.int16, lambda z: (z.caps, z.entities), -1),
    # both worlds' income and income lost, money, employment (bit 0 factual, bit 1 twin)
    _per_entity("income_f", np.float64, lambda z: (z.entities,)),
    _per_entity("income_t", np.float64, lambda z: (z.entities,)),
    _per_entity("loss_f", np.float64, lambda z: (z.entities,)),
    _per_entity("loss_t", np.float64, lambda z: (z.entities,)),
    _per_entity("money", np.float64, lambda z: (z.entities,)),
    _per_entity("employed", np.uint8, lambda z: (z.entities,)),
    # lists: membership bits per (list, entity), and list slots (an entity's listing step and
    # pending review per list; grown): chained from the entity, in the review calendar
    _per_entity("on_list", np.uint8, lambda z: (z.lists, z.entities)),
    _per_entity("ls_head", np.int32, lambda z: (z.entities,), -1),
    _grown("ls_list", np.int16), _grown("ls_ent", np.int32), _grown("ls_since", np.int32),
    _grown("ls_next", np.int32), _grown("ls_cal", np.int32), _grown("ls_pend", np.uint8),
    _grown("ls_wpos", np.int32),
    # why an entity is on the list (kernel.CAUSE_*), and the wrongful sanctions the listing drove
    _grown("ls_cause", np.int16), _grown("ls_hits", np.int32),
    Array("cal_head", np.int64, lambda z: (z.steps + 1,), -1),
    # upheld appeals of wrongful listings, in listing order
    _grown("la_ent", np.int32), _grown("la_list", np.int16), _grown("la_step", np.int32),
    # stock of each list and of its wrongful listings, its own entities' (rows 0, 1) and its
    # firms' representatives' joint listings (rows 2, 3)
    Array("l_stock", np.int64, lambda z: (4, z.lists)),
    # members of lists kept per region, in per-region segments
    _grown("w_mem", np.int32),
    Array("w_base", np.int64, lambda z: (z.member_lists, z.regions)),
    Array("w_cap", np.int64, lambda z: (z.member_lists, z.regions)),
    Array("w_n", np.int64, lambda z: (z.member_lists, z.regions)),
    # flags: the national queues, who waits in them, the step each entity was flagged last plus
    # one (0: never), the capacity left
    Array("q_ent", np.int32, lambda z: (z.flags, z.entities + 1)),
    Array("q_truth", np.uint8, lambda z: (z.flags, z.entities + 1)),
    Array("q_head", np.int64, lambda z: (z.flags,)),
    Array("q_len", np.int64, lambda z: (z.flags,)),
    _per_entity("queued", np.uint8, lambda z: (z.flags, z.entities)),
    _per_entity("last_flag", np.uint16, lambda z: (z.flags, z.entities)),
    Array("f_budget", np.float64, lambda z: (z.flags,)),
    # records (RECORD_COLUMNS), points kept apart (od_*), the visibility step's first id, the
    # pool of delayed records (POOL_COLUMNS), each subject's chain, each channel's queue
    *(_grown(k, t) for k, t in RECORD_COLUMNS.items()),
    _grown("od_rec", np.int32), _grown("od_val", np.float64),
    Array("vis_start", np.int64, lambda z: (max(z.steps, 1),)),
    *(_grown(k, t) for k, t in POOL_COLUMNS.items()),
    _per_entity("subj_head", np.int32, lambda z: (z.entities,), -1),
    # live (visible, not removed) records about each entity: the data held about it
    _per_entity("held", np.int32, lambda z: (z.entities,)),
    # whether each entity is scored: people from the scoring age (``scoring.coming_of_age``: from
    # the step they reach it), every firm
    _per_entity("scored", np.uint8, lambda z: (z.entities,)),
    Array("ch_pend", np.int64, lambda z: (z.channels, 2), -1),
    Array("cur", np.int64, lambda z: (N_CURSORS + z.retentions,)),
    Array("cnt", np.int64, lambda z: (N_COUNTERS,)),
    # per region: grade counts, sums and squares of scores and the association term's sums
    # (kernel.association.tally_association), money per consequence, whether this state runs the region
    Array("ghist", np.int64, lambda z: (2, z.grades)),
    Array("ssum", np.float64, lambda z: (z.regions, 5)),
    Array("money_r", np.float64, lambda z: (z.regions, z.consequences)),
    Array("own", np.uint8, lambda z: (z.regions,), 1),
    # the outbox (grown) and the step's pending flags
    _grown("mb_i", np.int64, lambda z: (64, 6)), _grown("mb_x", np.float64, lambda z: (64, 2)),
    _grown("mb_key", np.int64, lambda z: (64,)), _grown("pf", np.int64, lambda z: (64, 3)),
    # grade buckets: each region's entities ordered by kind and grade
    _per_entity("gb_mem", np.int32, lambda z: (z.entities,)),
    _per_entity("gb_pos", np.int32, lambda z: (z.entities,)),
    Array("gb_lo", np.int64, lambda z: (z.regions, 2 * (z.grades + 1) + 1)),
    # per-entity outcome counters (int8, wraps booked in carry)
    _per_entity("out", np.int8, lambda z: (N_OUTCOMES, z.entities)),
    _grown("carry", np.int64),
    # the step's scratch: coverage now, perceived risk, face search's false-alert chance
    Array("cov", np.float64, lambda z: (z.channels,)),
    Array("risk", np.float64, lambda z: (z.behaviours, z.signatures)),
    Array("id_p", np.float64, lambda z: (z.channels,)),
    # the association term: what contacts give (views 0 and 1, in plan.ASSOCIATION_UNITs), how
    # each person counts for their contacts, the fading queue (due, person, marks, stage)
    _per_entity("asc", np.int64, lambda z: (2, z.people if z.association else 0)),
    _per_entity("amark", np.uint8, lambda z: (z.people if z.association else 0,)),
    _grown("aq", np.int64, lambda z: (64 if z.association else 0, 4)),
)


def allocate(sizes: Sizes, own: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Every array of ``STATE`` at its first value. With ``own`` (entity ranges ``[lo, hi)``,
    one a row), only those entities' part of a per-entity array is set: a shard's state
    holds memory for its own regions' entities only, the other pages never written."""
    arrays = {}
    for a in STATE:
        arr = lazy_zeros(a.shape(sizes), a.dtype)
        if a.fill != 0:
            if own is None or a.entity_axis is None:
                arr[...] = a.fill
            else:
                for lo, hi in own:
                    arr[(slice(None),) * a.entity_axis + (slice(int(lo), int(hi)),)] = a.fill
        arrays[a.name] = arr
    return arrays


def fixed_bytes(sizes: Sizes) -> int:
    """Bytes of the arrays that keep their size (the grown ones are estimated apart)."""
    return int(sum(np.dtype(a.dtype).itemsize * int(np.prod(a.shape(sizes))) for a in STATE if not a.grown))


# ---- the per-step metrics: blocks of columns, in the order of kernel.MO_*; within a block of
# per-item columns, the item's columns in the order of the tuples below (kernel.LC_*, ...)

#: Per channel: records by error
ERROR_NAMES = ("true", "misattributed", "false_match")
#: Per consequence, in the order of kernel.CC_*: applications, of which wrongful and by
#: association, money moved (at the step's end), outcomes that succeeded
CONSEQUENCE_COLUMNS = ("applied", "wrongful", "association", "money", "successes")
#: Per identifying channel, in the order of kernel.IC_*: faces captured (and searched), those of
#: listed people, listed people recognised, false alerts (unlisted people matched: bystanders stopped)
IDENTIFICATION_COLUMNS = ("scanned", "scanned_listed", "hits", "false_alerts")
#: Per in-car audio channel, in the order of kernel.AU_*: covered trips, covered acts of the watched
#: talk, talk heard (true records about drivers), false positives (false records about drivers on
#: trips without it), and the records about passengers of either
AUDIO_COLUMNS = ("trips", "talk", "hits", "false_positives", "passenger_records")
#: Per classroom channel, in the order of kernel.CR_*: covered school days, covered acts of the
#: watched conduct, conduct seen (true records), false positives (false records on school days
#: without it); of these, the records about pupils (people under the scoring age) and the false
#: ones; the records against parents for a pupil's act and the false ones. After the rows, one
#: column: sanctions of people with a pupil's record made against them (``CLASSROOM_SANCTIONS``)
CLASSROOM_COLUMNS = ("school_days", "acts", "hits", "false_positives", "pupil_records", "pupil_records_false",
                     "parent_records", "parent_records_false")
CLASSROOM_SANCTIONS = "classroom.parent_sanctions"
#: With the association term, in the order of kernel.AC_*, at each step's end: scored people
#: whose contacts lower their score, those whose contacts raise it, and the term's mean over
#: scored people (points)
ASSOCIATION_COLUMNS = ("association.marked_down", "association.marked_up", "association.points_mean")
#: Per-list metric columns, in the order of kernel.LC_*: the stock and the stock of wrongful
#: listings at the end of the step; entries, exits (by the exit rule or lifted), wrongful
#: entries; listings lifted because what listed the entity was removed or the listing was
#: appealed ("overturned", of which "appealed" on an appeal of the listing itself); of the
#: wrongful ones lifted: how many, the days they had stood, and the wrongful sanctions they
#: had driven until then.
LIST_COLUMNS = ("stock", "entries", "exits", "wrongful_entries", "wrongful_stock", "overturned", "appealed",
                "wrongful_overturned", "wrongful_days_overturned", "wrongful_sanctions_overturned")
#: Per-flag metric columns, in the order of kernel.FC_*: raised, true, false, investigated, the
#: backlog at the end of the step; flags withdrawn from the queue and investigations overturned
#: because what raised them was removed.
FLAG_COLUMNS = ("raised", "true", "false", "investigated", "backlog", "withdrawn", "investigations_overturned")
#: What is held about people, in the order of kernel.DC_*: live records about people, people
#: with at least one (stocks at the step's end; the kernels count their changes: ``ACCUMULATED``)
DATA_COLUMNS = ("data.records_held", "data.people_with_data")
#: Per region (city), in the order of kernel.RC_*: records made visible about its people and
#: firms (true, erroneous), sanctions and rewards applied to them (of which wrongful), and the
#: stocks at the step's end of listings (entities on a list, per list), live records about its
#: people and its people with any
REGION_COLUMNS = ("records_true", "records_erroneous", "sanctions", "sanctions_wrongful", "rewards",
                  "rewards_wrongful", "listings", "records_held", "people_with_data")
#: Region columns that are stocks (the kernels count their changes: ``ACCUMULATED``)
REGION_STOCKS = ("listings", "records_held", "people_with_data")
#: Per sampled person (plan.Params.tr_ids), in the order of kernel.TC_*, at the step's end:
#: score and grade (NaN when not scored), lists they are on, flags raised and sanctions since
#: the reported start, live records about them, income in both worlds
TRAJECTORY_COLUMNS = ("score", "grade", "lists", "flags", "sanctions", "records_held", "income", "income_twin")
#: Per group of the population, with loans (plan.lending_groups), in the order of kernel.LN_*:
#: loan applications by scored people, of them refused, granted loans with an outcome (due),
#: of them repaid; the sum of the levels (total scores) of the group's people scored from day 0
#: (not those who come of age later: the mean's cohort is fixed) in ``LEVEL_UNITS``, counted as
#: changes from day 0's levels (``ACCUMULATED``)
LENDING_COLUMNS = ("applied", "refused", "due", "repaid", "level")
#: A level's units in the lending block: each person's level rounded to 1/1024 of a point, a
#: whole number, so that the groups' sums are exact (float64 holds whole numbers to 2**53, a
#: billion people at 1,000 points) and the same for any number of shards, whatever order adds
#: them; a mean level is exact to 1/2048 of a point
LEVEL_UNITS = 1024
#: With ``scoring.coming_of_age``, in the order of kernel.AG_*: people who reached the scoring
#: age in the step (scored from then on), and the live records about them that then began to
#: count (held before; a school's record counts only with ``counts_against: pupil_later``)
AGEING_COLUMNS = ("ageing.came_of_age", "ageing.records_carried")
#: The blocks, in the order of kernel.MO_*
BLOCKS = ("events", "events_twin", "records", "records_removed", "consequences", "lists", "flags", "grades",
          "firm_grades", "score", "identification", "association", "audio", "classroom", "data", "regions", "trajectories",
          "lending", "ageing", "records_about_firms", "joint_listings")


def accumulated(name: str) -> bool:
    """Whether the kernels write a metric column as changes, whose running sum over the steps
    is the stock (``engine.simulation.metrics_columns`` sums them): a stock kept per region
    that way needs no exchange between shards (each shard's changes add up)."""
    if name.startswith("lending."):
        return name.endswith(".level")
    return name in DATA_COLUMNS or (name.startswith("regions.") and name.rsplit(".", 1)[1] in REGION_STOCKS)


def metric_layout(plan: Any) -> tuple[np.ndarray, list[str]]:
    """Column offsets of the blocks (kernel.MO_*) and names of the per-step metrics of a plan."""
    columns = {
        "events": [f"events.{b}" for b in plan.behaviour_names],
        "events_twin": [f"events_twin.{b}" for b in plan.behaviour_names],
        "records": [f"records.{c}.{x}" for c in plan.channel_names for x in ERROR_NAMES],
        "records_removed": ["records_removed.appeal", "records_removed.deleted"],
        "consequences": [f"consequences.{k}.{x}" for k in plan.consequence_names for x in CONSEQUENCE_COLUMNS],
        "lists": [f"lists.{l}.{x}" for l in plan.list_names for x in LIST_COLUMNS],
        "flags": [f"flags.{f}.{x}" for f in plan.flag_names for x in FLAG_COLUMNS],
        "grades": [f"grades.{g}" for g in plan.grade_names],
        "firm_grades": [f"firm_grades.{g}" for g in plan.grade_names],
        "score": ["score.mean", "score.sd"],
        "identification": [f"identification.{c}.{x}" for c in plan.identifying_names for x in IDENTIFICATION_COLUMNS],
        "association": list(ASSOCIATION_COLUMNS) if plan.params.as_on else [],
        "audio": [f"audio.{c}.{x}" for c in plan.audio_names for x in AUDIO_COLUMNS],
        "classroom": [f"classroom.{c}.{x}" for c in plan.classroom_names for x in CLASSROOM_COLUMNS]
        + ([CLASSROOM_SANCTIONS] if plan.classroom_names else []),
        "data": list(DATA_COLUMNS),
        "regions": [f"regions.{r}.{x}" for r in range(plan.params.city_join.shape[0]) for x in REGION_COLUMNS],
        "trajectories": [f"trajectories.{i}.{x}" for i in range(plan.params.tr_ids.shape[0])
                         for x in TRAJECTORY_COLUMNS],
        "lending": [f"lending.{g}.{x}" for g in range(len(plan.lending_groups)) for x in LENDING_COLUMNS],
        "ageing": list(AGEING_COLUMNS) if plan.params.coa_on else [],
        # (of the records above, those about firms: the headline's and the regions' are people's)
        "records_about_firms": [f"records_about_firms.{x}" for x in ERROR_NAMES],
        # (firms' representatives listed jointly with their firm: people, counted apart from the firms)
        "joint_listings": [f"joint_listings.{l}.{x}" for l in plan.joint_list_names for x in LIST_COLUMNS],
    }
    names: list[str] = []
    offsets = []
    for block in BLOCKS:
        offsets.append(len(names))
        names.extend(columns[block])
    return np.array(offsets, dtype=np.int64), names
