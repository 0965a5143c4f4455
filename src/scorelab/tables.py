"""A run's tables (``RunTables``) and the results folder that holds them.

``RunTables`` is what a run leaves: the per-step metrics, the end state summed by cell and
by score, optionally one row per person, the scenario and the manifest. It reads and writes
results folders and knows nothing of what is computed from them: the metrics, the figures
and the reports read it (``scorelab.metrics``, ``scorelab.plots``, ``scorelab.report``), and
``scorelab.results.Result`` adds to it the conveniences that call them (``summary``, ``plot``).

A results folder (format documented in docs/results.md) holds:

* ``scenario.yaml``: the resolved scenario, loadable with ``scorelab.load``;
* ``manifest.json``: format version, scorelab version, seed, timings, platform, command,
  and the names in the run (behaviours with kinds, consequences with kinds, ...);
* ``metrics.parquet``: one row per step: ``run_id, seed, step, day`` and one column per metric;
* ``groups.parquet``: per-person end state summed over cells of (group, province, city,
  urban): what disparate-impact metrics need without the per-person file;
* ``scores.parquet``: end scores of scored people as value counts with their start and end
  grade: score quantiles, Gini and grade transitions without the per-person file;
* ``impact.parquet``: each harm per 1,000 people by group, income decile, age band, urban or
  rural, occupation, province and city, with counts, intervals and ranks (``scorelab.impact``);
* ``regions.parquet``: one row per region (city) and step: the headline's flows and stocks
  there (records, sanctions, rewards, listings, data held), so rollout shows region by region;
* ``trajectories.parquet``: one row per sampled person (``run.trajectories``) and step: their
  score, grade, lists, flags, sanctions, records held and income in both worlds;
* ``lending.parquet`` (a run with loans): one row per world, group and step: the group's mean
  level, repayment rate and loans applied for, refused, due and repaid (``scorelab.loans``);
* ``people.parquet`` (opt-in): per-person end state with population columns joined.

Writing is atomic (``scorelab.atomic``): everything goes into a hidden sibling
``.<name>.partial-<pid>`` (created before the run starts, so an unwritable place fails at
once) and is renamed to the final name only when complete; ``manifest.json`` is written
last, with the size and SHA-256 of every other file. A run killed midway leaves at most a
hidden ``.partial`` folder without a manifest, which ``RunTables.open`` and ``scorelab runs``
refuse to treat as a run; a write that fails (a full disk) is one line and leaves nothing.

Reading checks a folder before anything is computed from it (``scorelab.results_files``): a
damaged one is refused with one line naming the file.
"""

from __future__ import annotations

import datetime as _dt
import json
import platform
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import numpy as np
import polars as pl

from scorelab import atomic
from scorelab.errors import UsageError
from scorelab.impact import impact_frame, impact_from_groups, income_deciles
from scorelab.loans import lending_frame
from scorelab.results_files import FORMAT_NAME, FORMAT_VERSION, READABLE_VERSIONS, read_folder, scan_runs
from scorelab.codes import NO_GRADE

if TYPE_CHECKING:
    from scorelab.engine.simulation import RunOutput
    from scorelab.scenario.model import Scenario
    from scorelab.synth.population import Population

__all__ = [
    "FORMAT_NAME", "FORMAT_VERSION", "READABLE_VERSIONS", "RunTables", "as_run_tables", "default_run_id", "list_runs",
    "people_frame", "scan_runs",
]

#: Above this many distinct end scores, ``scores.parquet`` holds scores in this many equal-width bins.
MAX_DISTINCT_SCORES = 200_000
SCORE_BINS = 100_000

PERSON_KEYS = ("group", "province", "city", "urban")
_COUNTERS_PEOPLE = {
    "sanctioned_people": "sanctions",
    "wrongfully_sanctioned_people": "wrongful_sanctions",
    "association_people": "association_sanctions",
    "refused_people": "refusals",
    "rewarded_people": "rewards",
    "flagged_people": "flags",
    "people_with_erroneous_records": "erroneous_records",
    "people_with_suppressed_acts": "acts_suppressed",
    "linked_sanctioned_people": "linked_sanctions",
    "falsely_flagged_people": "false_flags",
    "people_with_data_held": "records_held",
    "parents_with_pupil_records": "records_for_child",
}
#: Metric columns of the engine's per-region, per-person and per-group blocks: the rows of
#: their own tables (``regions``, ``trajectories``, ``lending``), not columns of ``metrics.parquet``
_OWN_TABLES = ("regions.", "trajectories.", "lending.")
#: The tables a run may hold besides metrics, groups, scores, impact and people
_OWN = ("regions", "trajectories", "lending")


def _version() -> str:
    from scorelab import __version__

    return __version__


# --------------------------------------------------------------------------- building frames


def _names(scenario: "Scenario", plan: Any) -> dict[str, Any]:
    """Names in the run and what they are (stored in the manifest, used by the metrics)."""
    return {
        "behaviours": {b: scenario.behaviours[b].kind for b in plan.behaviour_names},
        "channels": list(plan.channel_names),
        "grades": list(plan.grade_names),
        "lists": {l: scenario.lists[l].actor for l in plan.list_names},
        "red_lists": [l for l in plan.list_names if scenario.lists[l].kind == "red"],
        "joint_lists": list(plan.joint_list_names),
        "consequences": {
            k: {"kind": scenario.consequences[k].kind, "sanction": bool(s), "actor": scenario.consequences[k].actor,
                "red_list": any(scenario.lists[x].kind == "red" for x in scenario.consequences[k].lists),
                "through": scenario.consequences[k].through,
                "income_change": scenario.consequences[k].income_change, "amount": scenario.consequences[k].amount}
            for k, s in zip(plan.consequence_names, plan.consequence_sanction)
        },
        "flags": list(plan.flag_names),
        "identification": list(plan.identifying_names),
        "audio": list(plan.audio_names),
        "classroom": list(plan.classroom_names),
        "lending": list(plan.lending_groups),
        "scheme": scenario.scoring.scheme,
    }


def _labels(codes: np.ndarray, table: tuple[str, ...] | list[str], missing: int | None = None) -> pl.Series:
    """The names of integer codes as an Enum column (one byte a person for up to 256 names; a
    String column took 16), null where a code is ``missing``. Categories in the table's order,
    a repeated name once (cities of two provinces may share a name)."""
    cats = list(dict.fromkeys(table))
    at = {name: i for i, name in enumerate(cats)}
    # codes -> positions in [*cats, None]: a missing code points at the trailing null
    to = np.full(max(len(table), 0 if missing is None else missing + 1), len(cats), dtype=np.uint32)
    to[: len(table)] = [at[name] for name in table]
    if missing is not None:
        to[missing] = len(cats)
    return pl.Series([*cats, None], dtype=pl.Enum(cats)).gather(to[codes])


def _masked(values: np.ndarray, valid: np.ndarray) -> pl.Series:
    """Float64 values null where not ``valid``, sharing the array (the state's own; a copy
    with NaN put in took 8 more bytes a person)."""
    import pyarrow as pa

    values = np.ascontiguousarray(values, dtype=np.float64)
    bits = np.packbits(valid, bitorder="little")
    return pl.from_arrow(pa.Array.from_buffers(pa.float64(), len(values), [pa.py_buffer(bits), pa.py_buffer(values)]))


def people_frame(out: "RunOutput", pop: "Population") -> pl.DataFrame:
    """A run's per-person table (``RunTables.people``): one row per person, the population's
    columns beside the end state, whose numeric columns it shares (no copy)."""
    plan = out.plan
    grades = list(plan.grade_names)
    N = int(plan.params.n_people)
    state = out.people
    score = state["score"]
    cols: dict[str, Any] = {
        "person": np.arange(N, dtype=np.int32),
        "group": _labels(pop.group, pop.group_names),
        "province": _labels(pop.province, pop.province_names),
        "city": _labels(pop.city, pop.city_names),
        "urban": pop.urban.astype(bool, copy=False),
        "age": pop.age.astype(np.int16),
        "occupation": _labels(pop.occupation, pop.occupation_names),
        # (of the population's income before the run: the twin's and the factual world's differ after)
        "income_decile": income_deciles(pop.income),
        "start_score": pl.Series(state["start_score"], nan_to_null=True),  # NaN where not scored
        "start_grade": _labels(state["start_grade"], grades, NO_GRADE),
        "score": _masked(score, (state["grade"] != NO_GRADE) & ~np.isnan(score)),
        "grade": _labels(state["grade"], grades, NO_GRADE),
    }
    for k, v in state.items():
        if k not in ("score", "grade", "start_score", "start_grade"):
            cols[k] = v
    return pl.DataFrame(cols)


def regions_frame(out: "RunOutput", scenario: "Scenario") -> pl.DataFrame:
    """A run's per-region series (``regions.parquet``): one row per region and step, the
    region's people and its columns of ``engine.layout.REGION_COLUMNS``."""
    from scorelab.engine.layout import REGION_COLUMNS

    regions = scenario.population.regions
    R, n = len(regions), int(out.n_steps)
    people = np.diff(np.asarray(out.plan.params.reg_p0))
    cols: dict[str, Any] = {
        "step": np.tile(np.asarray(out.metrics["step"], dtype=np.int64), R),
        "day": np.tile(np.asarray(out.metrics["day"], dtype=np.float64), R),
        "region": np.repeat(np.arange(R, dtype=np.int32), n),
        "province": pl.Series(np.repeat([r.province for r in regions], n).tolist(), dtype=pl.String),
        "city": pl.Series(np.repeat([r.city for r in regions], n).tolist(), dtype=pl.String),
        "people": np.repeat(people.astype(np.int64), n),
    }
    for x in REGION_COLUMNS:
        cols[x] = np.concatenate([np.asarray(out.metrics[f"regions.{r}.{x}"]) for r in range(R)]
                                 or [np.zeros(0)]).astype(np.int64)
    return pl.DataFrame(cols)


def trajectories_frame(out: "RunOutput", people: pl.DataFrame) -> pl.DataFrame:
    """The sampled people's paths (``trajectories.parquet``): one row per person and step, with
    their group, province and city; score and grade null when not scored."""
    from scorelab.engine.layout import TRAJECTORY_COLUMNS

    ids = np.asarray(out.plan.params.tr_ids, dtype=np.int64)
    n, k = int(out.n_steps), len(ids)
    grades = list(out.plan.grade_names)
    cols: dict[str, Any] = {
        "person": np.repeat(ids.astype(np.int32), n),
        "step": np.tile(np.asarray(out.metrics["step"], dtype=np.int64), k),
        "day": np.tile(np.asarray(out.metrics["day"], dtype=np.float64), k),
    }
    values = {x: np.concatenate([np.asarray(out.metrics[f"trajectories.{i}.{x}"]) for i in range(k)] or [np.zeros(0)])
              for x in TRAJECTORY_COLUMNS}
    frame = pl.DataFrame(cols).hstack(_strings(people.select("group", "province", "city"))[np.repeat(ids, n)])
    grade = values.pop("grade")
    code = np.where(np.isnan(grade), len(grades), np.nan_to_num(grade)).astype(np.int64)
    frame = frame.with_columns(pl.Series("score", values.pop("score"), nan_to_null=True),
                               pl.Series("grade", [*grades, None], dtype=pl.String).gather(code))
    for x in ("lists", "flags", "sanctions", "records_held"):
        frame = frame.with_columns(pl.Series(x, values.pop(x).astype(np.int64)))
    return frame.with_columns(pl.Series(x, v) for x, v in values.items())


def _strings(df: pl.DataFrame) -> pl.DataFrame:
    """Enum columns as strings: the small per-cell tables keep their string columns (tables of
    runs with other names concatenate, and sort by name)."""
    return df.with_columns(pl.col(c).cast(pl.String) for c, t in df.schema.items() if isinstance(t, pl.Enum))


def _groups_frame(people: pl.DataFrame) -> pl.DataFrame:
    """People's end state summed over (group, province, city, urban) cells."""
    skip = {"person", "age", "income_decile", "start_score", "score", "start_grade", "grade", *PERSON_KEYS}
    numeric = [c for c, t in people.schema.items() if c not in skip and (t.is_numeric() or t == pl.Boolean)]
    aggs = [pl.len().alias("people"), pl.col("grade").is_not_null().sum().alias("scored")]
    aggs += [pl.col(c).cast(pl.Float64).sum().alias(c) for c in numeric]
    aggs += [(pl.col(src) != 0).sum().alias(name) for name, src in _COUNTERS_PEOPLE.items() if src in people.columns]
    if "income_lost" in people.columns:
        aggs.append((pl.col("income_lost") > 0).sum().alias("people_losing_income"))
    # grouped by one integer cell number made of the keys' codes: grouping by the four keys
    # encoded each row's keys first (at 3 million people 99 MiB at the peak, this 53); the
    # same groups of rows in the same order, hence the same sums (not lazily: a lazy query
    # sums in another order, and income sums differed in the last bits)
    sizes = [len(people.schema[k].categories) if isinstance(people.schema[k], pl.Enum) else 2 for k in PERSON_KEYS]
    index = pl.UInt32 if np.prod(sizes, dtype=np.float64) < 2**32 else pl.UInt64
    cell = pl.lit(0, dtype=index)
    for k, n in zip(PERSON_KEYS, sizes):
        cell = cell * n + pl.col(k).to_physical().cast(index)
    cells = people.with_columns(cell.alias("_cell")).group_by("_cell").agg(pl.col(PERSON_KEYS).first(), *aggs)
    return _strings(cells.drop("_cell")).sort(list(PERSON_KEYS))


def _scores_frame(people: pl.DataFrame) -> tuple[pl.DataFrame, float | None]:
    """Value counts of (start grade, end grade, end score) over scored people."""
    # a lazy query reads the three columns in batches: filtering and grouping them whole took
    # 119 MiB at 3 million people, this 14 (counts and exact keys: no sum whose order matters)
    scored = people.lazy().select("start_grade", "grade", "score").filter(pl.col("grade").is_not_null())
    width: float | None = None
    stats = scored.select(n=pl.col("score").n_unique(), lo=pl.col("score").min(), hi=pl.col("score").max()).collect()
    if stats.item(0, "n") > MAX_DISTINCT_SCORES:
        lo, hi = stats.item(0, "lo"), stats.item(0, "hi")
        width = (hi - lo) / SCORE_BINS or 1.0
        scored = scored.with_columns(((pl.col("score") - lo) / width).floor().mul(width).add(lo + width / 2).alias("score"))
    vc = scored.group_by("start_grade", "grade", "score").agg(pl.len().cast(pl.Int64).alias("people")).collect()
    return _strings(vc).sort("score", "start_grade", "grade"), width


# --------------------------------------------------------------------------- the tables


class RunTables:
    """A run's tables: metrics per step, end state, scenario and manifest.

    ``metrics`` (one row per step), ``groups`` and ``scores`` are always present; ``people``
    (one row per person) is present after a run and in folders saved with ``people=True``.
    Metric functions in ``scorelab.metrics`` take these tables (or a folder, read with
    ``RunTables.open``); ``scorelab.results.Result`` is this class with ``summary`` and ``plot``.
    """

    def __init__(
        self,
        *,
        scenario: dict[str, Any],
        manifest: dict[str, Any],
        metrics: pl.DataFrame,
        groups: pl.DataFrame,
        scores: pl.DataFrame,
        people: pl.DataFrame | None = None,
        impact: pl.DataFrame | None = None,
        path: Path | None = None,
        regions: pl.DataFrame | None = None,
        trajectories: pl.DataFrame | None = None,
        lending: pl.DataFrame | None = None,
    ) -> None:
        self.scenario_data = scenario
        self.manifest = manifest
        self.metrics = metrics
        self.groups = groups
        self.scores = scores
        self._people = people
        self._impact = impact
        self.path = path
        self._regions = regions
        self._trajectories = trajectories
        self._lending = lending

    # ---------------------------------------------------------------- construction

    @classmethod
    def from_output(cls, out: "RunOutput", scenario: "Scenario", pop: "Population", *, run_id: str | None = None,
                    command: str | None = None, created: str | None = None) -> Self:
        """Wrap a finished engine run (``RunOutput``) with its scenario and population."""
        return cls.from_people(out, scenario, people_frame(out, pop), run_id=run_id, command=command, created=created)

    @classmethod
    def from_people(cls, out: "RunOutput", scenario: "Scenario", people: pl.DataFrame, *, run_id: str | None = None,
                    command: str | None = None, created: str | None = None) -> Self:
        """``from_output`` with the per-person table already built (``people_frame(out, pop)``):
        what the other tables need of the population and the end state is in it, so a caller
        can free those first (``execute`` does)."""
        plan = out.plan
        seed = int(scenario.run.seed)
        created = created or _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        run_id = run_id or default_run_id(scenario, created)
        cols: dict[str, Any] = {
            "run_id": pl.Series([run_id] * out.n_steps, dtype=pl.String),
            "seed": pl.Series([seed] * out.n_steps, dtype=pl.Int64),
            "step": np.asarray(out.metrics["step"], dtype=np.int64),
            "day": np.asarray(out.metrics["day"], dtype=np.float64),
        }
        for k, v in out.metrics.items():
            if k not in ("step", "day") and not k.startswith(_OWN_TABLES):
                cols[k] = np.asarray(v, dtype=np.float64)
        metrics = pl.DataFrame(cols)
        regions = regions_frame(out, scenario)
        trajectories = trajectories_frame(out, people)
        lending = lending_frame(out.metrics, list(plan.lending_groups), people)
        groups = _groups_frame(people)
        scores, width = _scores_frame(people)
        manifest = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "scorelab_version": _version(),
            "run_id": run_id,
            "scenario": scenario.name,
            "seed": seed,
            "days": float(out.n_steps * plan.params.dt),
            "steps": int(out.n_steps),
            "burn_in_days": float(out.burn_in_steps * plan.params.dt),
            "step_days": float(plan.params.dt),
            "people": int(plan.params.n_people),
            "firms": int(plan.params.n_firms),
            "created": created,
            "wall_seconds": float(out.wall_seconds),
            "agent_days_per_second": float(out.agent_days_per_second),
            "platform": platform.platform(),
            "python": sys.version.split()[0],
            "command": command or "",
            "names": _names(scenario, plan),
            "scores_bin_width": width,
            "people_state": False,
        }
        return cls(scenario=scenario.model_dump(mode="json", by_alias=True), manifest=manifest, metrics=metrics,
                   groups=groups, scores=scores, people=people, regions=regions, trajectories=trajectories,
                   lending=lending, impact=impact_frame(people))

    @classmethod
    def open(cls, path: str | Path) -> Self:
        """Read a results folder back (UsageError with one line, naming the file, if it is not
        a complete, undamaged results folder: ``results_files.read_folder``)."""
        p = Path(path)
        folder = read_folder(p)
        t = folder.tables
        people = t["people"]
        own = {k: _drop_run_id(t[k]) if t.get(k) is not None else None for k in _OWN}
        return cls(scenario=folder.scenario, manifest=folder.manifest, metrics=t["metrics"],
                   groups=_drop_run_id(t["groups"]), scores=_drop_run_id(t["scores"]),
                   people=_drop_run_id(people) if people is not None else None,
                   impact=_drop_run_id(t["impact"]) if t.get("impact") is not None else None, path=p, **own)

    # ---------------------------------------------------------------- access

    @property
    def people(self) -> pl.DataFrame:
        """Per-person end state (raises UsageError when the folder was saved without it)."""
        if self._people is None:
            raise UsageError(f"{self.path}: saved without per-person state (rerun with --people-state)")
        return self._people

    @property
    def regions(self) -> pl.DataFrame:
        """Per-region series, one row per region and step (UsageError for a folder written
        before results format 3, which has none)."""
        if self._regions is None:
            raise UsageError(f"{self.path}: written before per-region series were kept (results format 3); rerun it")
        return self._regions

    @property
    def trajectories(self) -> pl.DataFrame:
        """The sampled people's paths, one row per person and step (UsageError for a folder
        written before results format 3)."""
        if self._trajectories is None:
            raise UsageError(f"{self.path}: written before trajectories were kept (results format 3); rerun it")
        return self._trajectories

    def lending_by_group(self) -> pl.DataFrame:
        """Lending by group (``scorelab.loans``): per world, group and step, the mean level,
        repayment rate and loans applied for, refused, due and repaid. UsageError for a run
        without loans, or a folder written before results format 5."""
        if self._lending is None:
            if int(self.manifest.get("format_version", 5)) < 5:
                raise UsageError(f"{self.path}: written before lending by group was kept (results format 5); rerun it")
            raise UsageError(f"{self.manifest['scenario']}: no lending by group: no people's consequence is a loan "
                             "(service: loans) in a scoring system that runs")
        return self._lending

    @property
    def has_lending(self) -> bool:
        """Whether the run counted lending by group (it has loans: ``lending_by_group``)."""
        return self._lending is not None

    @property
    def has_people(self) -> bool:
        return self._people is not None

    def impact(self) -> pl.DataFrame:
        """Each harm per 1,000 people by group, income decile, age band, urban or rural,
        occupation, province and city (``scorelab.impact``): the run's ``impact.parquet``; for
        a folder written before it, computed from the per-person table if saved, else along
        the axes of ``groups.parquet``."""
        if self._impact is None:
            self._impact = impact_frame(self._people) if self._people is not None else impact_from_groups(self.groups)
        return self._impact

    @property
    def run_id(self) -> str:
        return str(self.manifest["run_id"])

    @property
    def seed(self) -> int:
        return int(self.manifest["seed"])

    @property
    def names(self) -> dict[str, Any]:
        return self.manifest["names"]

    @property
    def scenario(self) -> "Scenario":
        """The scenario as run, validated."""
        from scorelab.scenario.loader import load

        return load(self.scenario_data)

    def __repr__(self) -> str:
        m = self.manifest
        return (f"{type(self).__name__}({m['run_id']!r}: {m['scenario']}, seed {m['seed']}, {m['people']:,} people, "
                f"{m['days']:g} days{', saved at ' + str(self.path) if self.path else ''})")

    # ---------------------------------------------------------------- writing

    def save(self, path: str | Path, people: bool = False) -> Path:
        """Write a results folder atomically at ``path`` (which must not exist, or be empty)."""
        final = Path(path)
        with atomic.staged_folder(final) as staging:
            self.write_into(staging, people=people, name=final)
        return final

    def write_into(self, folder: Path, people: bool = False, name: Path | None = None,
                   scenario_yaml: str | None = None) -> None:
        """Write every file into an existing (staging) folder; the manifest last, with each
        file's size and SHA-256. A write that fails (a full disk: an OSError, or polars' error,
        which does not always name the system's) is one UsageError line naming ``name`` (the
        folder's final name; default ``folder``); the caller removes the folder.
        ``scenario_yaml``: the scenario as YAML where the caller has dumped it already (a run
        writes it first; dumping it again was a tenth of a second)."""
        from scorelab.scenario.yamlread import dump_yaml

        text = scenario_yaml if scenario_yaml is not None else dump_yaml(self.scenario_data)
        manifest = dict(self.manifest)
        manifest["people_state"] = bool(people)
        run_id = pl.lit(self.run_id, dtype=pl.String).alias("run_id")
        writers: dict[str, Any] = {
            "scenario.yaml": lambda path: path.write_text(text, encoding="utf-8"),
            "metrics.parquet": self.metrics.write_parquet,
            "groups.parquet": self.groups.with_columns(run_id).select("run_id", *self.groups.columns).write_parquet,
            "scores.parquet": self.scores.with_columns(run_id).select("run_id", *self.scores.columns).write_parquet,
            "impact.parquet": lambda path: _with_run_id(self.impact(), run_id).write_parquet(path),
        }
        for table, own in (("regions", self._regions), ("trajectories", self._trajectories),
                           ("lending", self._lending)):
            if own is not None:
                writers[f"{table}.parquet"] = own.with_columns(run_id).select("run_id", *own.columns).write_parquet
        if people:
            df = self.people
            writers["people.parquet"] = df.with_columns(run_id).select("run_id", *df.columns).write_parquet
        try:
            files = {}
            for file, write in writers.items():
                write(folder / file)
                files[file] = atomic.digest(folder / file)
            manifest["files"] = files
            (folder / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")  # (the folder is staged)
        except (OSError, pl.exceptions.PolarsError) as exc:  # (writing frames made here: the disk's doing)
            raise atomic.write_failure(Path(name or folder), "write the results", exc) from None

    def equals(self, other: "RunTables") -> bool:
        """Same metrics, groups, scores and (when both have it) people."""
        same = self.metrics.equals(other.metrics) and self.groups.equals(other.groups) and self.scores.equals(other.scores)
        same = same and self.impact().equals(other.impact())
        for a, b in ((self._regions, other._regions), (self._trajectories, other._trajectories),
                     (self._lending, other._lending)):
            same = same and (a is None) == (b is None) and (a is None or a.equals(b))
        if self.has_people and other.has_people:
            same = same and self.people.equals(other.people)
        return same


def _with_run_id(df: pl.DataFrame, run_id: pl.Expr) -> pl.DataFrame:
    return df.with_columns(run_id).select("run_id", *df.columns)


def _drop_run_id(df: pl.DataFrame) -> pl.DataFrame:
    return df.drop("run_id") if "run_id" in df.columns else df


def as_run_tables(r: "RunTables | str | Path") -> RunTables:
    """``r`` itself when it is a run's tables (a ``Result``, ...), else the results folder at
    ``r`` read back (UsageError, one line, when it is not one)."""
    return r if isinstance(r, RunTables) else RunTables.open(r)


def _metric_sums(r: RunTables) -> dict[str, float]:
    """Every numeric per-step metric column's sum over the steps, computed once per metrics frame
    (a report reads thousands of totals: asking the frame for its column names each time was
    a tenth of its figures' time)."""
    m = r.metrics
    kept = r.__dict__.get("_metric_sums")
    if kept is None or kept[0] is not m:
        sums = m.select(pl.selectors.numeric().sum()).row(0, named=True) if m.width else {}
        kept = r.__dict__["_metric_sums"] = (m, {k: float(v) for k, v in sums.items()})
    return kept[1]


def metric_total(r: RunTables, column: str) -> float:
    """Sum over the steps of one per-step metric column (0 if the run has no such column)."""
    return _metric_sums(r).get(column, 0.0)


def metric_last(r: RunTables, column: str) -> float:
    """A per-step metric column's value at the last step (0 if the run has no such column)."""
    m = r.metrics
    return float(m.get_column(column)[-1]) if column in _metric_sums(r) and m.height else 0.0


def metric_max(r: RunTables, column: str) -> float:
    """A per-step metric column's largest value (0 if the run has no such column)."""
    m = r.metrics
    return float(m.get_column(column).max()) if column in _metric_sums(r) and m.height else 0.0


# --------------------------------------------------------------------------- folders


def default_run_id(scenario: "Scenario", created: str | None = None) -> str:
    """``<scenario>-<seed>-<YYYYmmdd-HHMMSS>`` (UTC)."""
    when = _dt.datetime.fromisoformat(created) if created else _dt.datetime.now(_dt.timezone.utc)
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in scenario.name) or "scenario"
    return f"{safe}-{scenario.run.seed}-{when.strftime('%Y%m%d-%H%M%S')}"


def list_runs(root: str | Path) -> list[dict[str, Any]]:
    """Manifests of the complete, readable run folders directly under ``root`` (hidden
    folders, folders without a manifest and damaged folders are skipped: ``scan_runs`` says
    why), oldest first, each with its ``path``."""
    return scan_runs(root)[0]
