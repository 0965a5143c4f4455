"""The files of a results folder, read back without trusting them.

A results folder (docs/results.md) is read by ``RunTables.open`` (``report``, ``Result.open``),
listed by ``scan_runs`` (``scorelab runs``, ``scorelab query``) and its Parquet files are
queried in place; one damaged folder must not break the others, nor give a wrong figure.
So, before a reader computes anything:

* ``manifest.json`` is read into ``Manifest``, a small strict model of the keys readers use
  (``days: "abc"`` is refused, not printed);
* the data files must be present with the size and SHA-256 the manifest records (``files``,
  written by ``RunTables.write_into`` since this version; a folder without them is read
  unverified), so a truncated, bit-flipped or replaced file is refused;
* ``scenario.yaml`` must be UTF-8 YAML holding a mapping, and each table must be readable
  Parquet holding the columns the metrics, figures and report read, with their types
  (``REQUIRED``), the metrics one row per step.

Whatever is wrong is one UsageError line naming the file: a named folder is refused
(``read_folder``), a listed one skipped with that line (``scan_runs``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, NamedTuple

import polars as pl
from pydantic import ConfigDict, Field

from scorelab.errors import Problem, UsageError
from scorelab.json_files import FileDigest, FileName, StrictModel, check_digest, parse_model, read_json
from scorelab.scenario.system import Actor, ConsequenceKind

__all__ = [
    "FORMAT_NAME", "FORMAT_VERSION", "READABLE_VERSIONS", "REQUIRED", "Folder", "Manifest", "read_folder",
    "read_manifest", "required_columns", "scan_runs",
]

#: Version of the results-folder layout; bumped when files or columns change meaning.
#: 2: people.parquet's group, province, city, start_grade and grade are Enum (were String).
#: 3: regions.parquet and trajectories.parquet; metrics' data.* columns; people's and groups'
#: records_held, channels_holding, domains_holding.
#: 4: impact.parquet (disparate impact by axis and harm); groups.parquet counts false flags
#: and the people who lost income; people.parquet holds occupation and income_decile.
#: 5: lending.parquet (lending by group) in a run with loans (the manifest's names.lending).
FORMAT_VERSION = 5
#: Versions ``RunTables.open`` can read (version 1's people frame keeps its String columns;
#: versions 1 and 2 have no per-region series nor trajectories; before 4, the impact table
#: is computed from the people or groups table).
READABLE_VERSIONS = (1, 2, 3, 4, 5)
FORMAT_NAME = "scorelab-results"
TABLES = ("metrics", "groups", "scores", "people", "regions", "trajectories", "impact", "lending")
#: Tables a folder holds from the format version given (lending.parquet only in a run with
#: loans: the manifest's names.lending lists their groups).
SINCE = {"regions": 3, "trajectories": 3, "impact": 4, "lending": 5}


# --------------------------------------------------------------------------- manifest


class _Open(StrictModel):
    """Keys are typed; keys this version does not know are kept (a later writer may add some)."""

    model_config = ConfigDict(extra="allow")


class ConsequenceName(_Open):
    """A consequence's kind and actor are the scenario's words (the metrics select by them: a
    flipped letter must be refused, not read as another kind)."""

    kind: ConsequenceKind
    sanction: bool
    actor: Actor
    through: Literal["self", "parents", "employer"] = "self"  # whose rating decides (absent before: self)
    income_change: float = 0.0
    red_list: bool = False


class Names(_Open):
    """The names in the run, which the metrics and figures go by."""

    behaviours: dict[str, str]
    channels: list[str]
    grades: list[str]
    lists: dict[str, str]
    consequences: dict[str, ConsequenceName]
    flags: list[str]
    identification: list[str] = []
    audio: list[str] = []
    classroom: list[str] = []
    scheme: str = "points"


class Manifest(_Open):
    """``manifest.json``: what a reader of the folder relies on."""

    format: Literal["scorelab-results"]
    format_version: int
    scorelab_version: str = "?"
    run_id: str
    scenario: str
    seed: int
    days: float = Field(ge=0)
    steps: int = Field(ge=0)
    burn_in_days: float = Field(default=0.0, ge=0)
    step_days: float = Field(gt=0)
    people: int = Field(ge=0)
    firms: int = Field(ge=0)
    created: str
    wall_seconds: float = Field(default=0.0, ge=0)
    agent_days_per_second: float = 0.0
    command: str = ""
    names: Names
    scores_bin_width: float | None = None
    people_state: bool = False
    files: dict[FileName, FileDigest] | None = None


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """The manifest of the results folder ``folder`` as a dict, its keys checked against
    ``Manifest`` and its version readable; UsageError (one line) otherwise."""
    p = Path(folder)
    if not p.is_dir():
        raise UsageError(f"{p}: no such results folder")
    mpath = p / "manifest.json"
    if not mpath.is_file():
        raise UsageError(f"{p}: not a complete results folder (no manifest.json; an interrupted run?)")
    raw = read_json(mpath)
    if not isinstance(raw, dict) or raw.get("format") != FORMAT_NAME:
        raise UsageError(f"{p}: not a scorelab results folder (manifest format is {raw.get('format')!r})"
                         if isinstance(raw, dict) else f"{p}: not a scorelab results folder")
    version = raw.get("format_version")
    if version not in READABLE_VERSIONS or isinstance(version, bool):
        raise UsageError(
            f"{p}: results format version {version} (written by scorelab {raw.get('scorelab_version', '?')}) "
            f"is not readable by scorelab {_version()}, which reads version(s) "
            f"{', '.join(map(str, READABLE_VERSIONS))}"
        )
    parse_model(mpath, raw, Manifest)
    return raw


def _version() -> str:
    from scorelab import __version__

    return __version__


# --------------------------------------------------------------------------- tables

#: Columns the readers (``metrics``, ``plots``, ``report``) read without a fallback, by table,
#: and their kind: "text", "number" (any integer or float type) or "flag" (Boolean). In
#: ``metrics``, every column but ``run_id`` is a number, and ``required_columns`` adds the
#: columns named after the run's grades and lists.
REQUIRED: dict[str, dict[str, str]] = {
    "metrics": {"run_id": "text", "seed": "number", "step": "number", "day": "number", "score.mean": "number",
                "score.sd": "number"},
    "groups": {"group": "text", "province": "text", "city": "text", "urban": "flag", "people": "number",
               "sanctions": "number", "wrongful_sanctions": "number", "income_lost": "number", "refusals": "number",
               "flags": "number", "money": "number", "sanctioned_people": "number",
               "wrongfully_sanctioned_people": "number"},
    "scores": {"start_grade": "text", "grade": "text", "score": "number", "people": "number"},
    "people": {"person": "number"},
    "impact": {"axis": "text", "cell": "text", "harm": "text", "people": "number", "count": "number",
               "events": "number", "per_1000": "number", "ratio": "number", "ranked": "flag", "rank": "number"},
    "regions": {"step": "number", "day": "number", "region": "number", "province": "text", "city": "text",
                "people": "number", "records_true": "number", "records_erroneous": "number", "sanctions": "number",
                "sanctions_wrongful": "number", "rewards": "number", "rewards_wrongful": "number",
                "listings": "number", "records_held": "number", "people_with_data": "number"},
    "trajectories": {"person": "number", "step": "number", "day": "number", "group": "text", "score": "number",
                     "grade": "text", "lists": "number", "flags": "number", "sanctions": "number",
                     "records_held": "number", "income": "number", "income_twin": "number"},
    "lending": {"step": "number", "day": "number", "world": "text", "group": "text", "people": "number",
                "mean_level": "number", "repayment_rate": "number", "loans_applied": "number",
                "loans_refused": "number", "loans_due": "number", "loans_repaid": "number"},
}
#: The per-list metric columns the readers select by name.
LIST_FLOWS = ("stock", "entries", "exits", "wrongful_entries")


def required_columns(table: str, manifest: dict[str, Any]) -> dict[str, str]:
    """The columns ``table`` must hold for the readers, with their kinds (see ``REQUIRED``).
    In ``metrics``, each name of the run has its first column (``events.<behaviour>``,
    ``records.<channel>.true``, ...): a name the manifest has wrong is refused, not read as
    a metric of zero."""
    out = dict(REQUIRED[table])
    if table == "metrics":
        names = manifest["names"]
        for b in names["behaviours"]:
            out |= {f"events.{b}": "number", f"events_twin.{b}": "number"}
        out |= {f"records.{c}.true": "number" for c in names["channels"]}
        out |= {f"consequences.{k}.applied": "number" for k in names["consequences"]}
        out |= {f"flags.{f}.raised": "number" for f in names["flags"]}
        out |= {f"identification.{c}.scanned": "number" for c in names.get("identification", [])}
        out |= {f"audio.{c}.trips": "number" for c in names.get("audio", [])}
        out |= {f"classroom.{c}.school_days": "number" for c in names.get("classroom", [])}
        out |= {f"grades.{g}": "number" for g in names["grades"]}
        out |= {f"lists.{l}.{x}": "number" for l in names["lists"] for x in LIST_FLOWS}
        out |= {f"joint_listings.{l}.{x}": "number" for l in names.get("joint_lists", []) for x in LIST_FLOWS}
    return out


def _kind(dtype: pl.DataType) -> str:
    if dtype == pl.Boolean:
        return "flag"
    if dtype.is_numeric():
        return "number"
    if dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum):
        return "text"
    return str(dtype)


def _check_columns(path: Path, schema: pl.Schema, required: dict[str, str], numbers_only: bool) -> None:
    for column, kind in required.items():
        if column not in schema:
            raise UsageError(f"{path}: {column}: missing column")
        if _kind(schema[column]) != kind:
            raise UsageError(f"{path}: {column}: a column of {schema[column]}, expected a {kind} column")
    if numbers_only:
        for column, dtype in schema.items():
            if column != "run_id" and _kind(dtype) != "number":
                raise UsageError(f"{path}: {column}: a column of {dtype}, expected a number column")


def _files(p: Path, manifest: dict[str, Any]) -> list[str]:
    """The files the folder must hold besides the manifest."""
    version = manifest.get("format_version", FORMAT_VERSION)
    held = [t for t in TABLES if (t != "people" or manifest.get("people_state")) and version >= SINCE.get(t, 0)
            and (t != "lending" or manifest.get("names", {}).get("lending"))]
    return ["scenario.yaml", *(f"{t}.parquet" for t in held)]


def check_files(folder: Path, manifest: dict[str, Any], verify: bool) -> None:
    """Every file is present, with its recorded size (and with ``verify`` its SHA-256), and
    each Parquet file's footer readable with the required columns."""
    recorded = {k: FileDigest.model_validate(v) for k, v in (manifest.get("files") or {}).items()}
    for name in _files(folder, manifest):
        path = folder / name
        if not path.is_file():
            raise UsageError(f"{path}: missing")
        if name in recorded:
            if verify:
                check_digest(path, recorded[name], "manifest.json")
            elif path.stat().st_size != recorded[name].bytes:
                raise UsageError(f"{path}: damaged: {path.stat().st_size:,} bytes where manifest.json records "
                                 f"{recorded[name].bytes:,} (truncated or replaced)")
        if name.endswith(".parquet"):
            table = name.removesuffix(".parquet")
            _check_columns(path, _schema(path), required_columns(table, manifest), table == "metrics")


def _schema(path: Path) -> pl.Schema:
    try:
        with open(path, "rb") as f:  # (a file, not a path: polars reads a path as a glob pattern)
            return pl.read_parquet_schema(f)
    except Exception as e:  # (polars and its Rust readers raise several kinds on a damaged file)
        raise UsageError(f"{path}: unreadable Parquet file: {_first_line(e)}") from None


def _read(path: Path) -> pl.DataFrame:
    try:
        return pl.read_parquet(path, glob=False)
    except Exception as e:  # (as above)
        raise UsageError(f"{path}: unreadable Parquet file: {_first_line(e)}") from None


def _rows(path: Path) -> int:
    """A Parquet file's rows, from its footer."""
    try:
        return int(pl.scan_parquet(path, glob=False).select(pl.len()).collect().item())
    except Exception as e:  # (as above)
        raise UsageError(f"{path}: unreadable Parquet file: {_first_line(e)}") from None


def _check_rows(path: Path, rows: int, manifest: dict[str, Any]) -> None:
    if rows != manifest["steps"]:
        raise UsageError(f"{path}: {rows} rows where manifest.json says {manifest['steps']} steps")


#: Tables of a row per step of each region, sampled person, or group in each world
OWN_STEPS = {"regions": "region", "trajectories": "person", "lending": "group in each world"}


def _check_steps(path: Path, rows: int, manifest: dict[str, Any]) -> None:
    what = OWN_STEPS[path.name.removesuffix(".parquet")]
    per = 2 * len(manifest.get("names", {}).get("lending") or []) if what.startswith("group") else 0
    if (manifest["steps"] and rows % manifest["steps"]) or (per and rows != per * manifest["steps"]):
        raise UsageError(f"{path}: {rows} rows, not a row per step ({manifest['steps']} steps) of each {what}")


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def read_scenario(path: Path) -> dict[str, Any]:
    """``scenario.yaml`` as a mapping (UsageError, one line, if it is not UTF-8 YAML holding one)."""
    import yaml

    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise UsageError(f"{path}: not UTF-8 text (byte {e.start})") from None
    except OSError as e:
        raise UsageError(f"{path}: unreadable: {e.strerror or e}") from None
    try:
        # (libyaml when present: a run's resolved scenario is thousands of lines, 5x faster to read)
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 (a safe loader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (None, None)
        raise UsageError(str(Problem(str(path), line, col, "", f"not valid YAML: {getattr(e, 'problem', None) or e}"))) from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: expected the scenario's sections (a mapping), got {type(data).__name__}")
    return data


class Folder(NamedTuple):
    """What ``read_folder`` read: the manifest, the scenario's data and the tables."""

    manifest: dict[str, Any]
    scenario: dict[str, Any]
    tables: dict[str, pl.DataFrame | None]


def read_folder(folder: str | Path) -> Folder:
    """A complete, undamaged results folder read back: its manifest, scenario and tables
    (``people`` None when the folder has none). UsageError, one line naming the file, when
    anything is missing, damaged or not what the readers need."""
    p = Path(folder)
    manifest = read_manifest(p)
    check_files(p, manifest, verify=True)
    scenario = read_scenario(p / "scenario.yaml")
    tables: dict[str, pl.DataFrame | None] = {}
    for t in TABLES:
        path = p / f"{t}.parquet"
        tables[t] = _read(path) if path.is_file() else None
    _consistent(p, manifest, tables)
    return Folder(manifest, scenario, tables)


def _consistent(p: Path, manifest: dict[str, Any], tables: dict[str, pl.DataFrame | None]) -> None:
    """The manifest's figures agree with the tables: steps and the metrics' rows, days and
    steps, run and seed, people and the groups' people, and no name twice."""
    metrics, groups = tables["metrics"], tables["groups"]
    assert metrics is not None and groups is not None
    mpath = p / "manifest.json"
    _check_rows(p / "metrics.parquet", metrics.height, manifest)
    for name in OWN_STEPS:
        own = tables[name]
        if own is not None:
            _check_steps(p / f"{name}.parquet", own.height, manifest)
    if abs(manifest["days"] - manifest["steps"] * manifest["step_days"]) > 1e-6 * max(1.0, manifest["days"]):
        raise UsageError(f"{mpath}: days: {manifest['days']:g}, but {manifest['steps']} steps of "
                         f"{manifest['step_days']:g} days")
    for key in ("run_id", "seed"):
        values = metrics.get_column(key).unique().to_list()
        if metrics.height and values != [manifest[key]]:
            raise UsageError(f"{mpath}: {key}: {manifest[key]!r}, but metrics.parquet holds {values[:3]!r}")
    _check_finite(p / "metrics.parquet", metrics)
    people = groups.get_column("people").sum()
    if people != manifest["people"]:
        raise UsageError(f"{mpath}: people: {manifest['people']}, but groups.parquet counts {people}")
    for key, value in manifest["names"].items():
        if isinstance(value, list) and len(set(value)) != len(value):
            raise UsageError(f"{mpath}: names.{key}: a name twice")


def _check_finite(path: Path, metrics: pl.DataFrame) -> None:
    """Every metric a finite number: a NaN or an infinity, read as a count, makes no figure (a
    report stopped on it with a traceback)."""
    for column, dtype in metrics.schema.items():
        if dtype.is_float():
            finite = metrics.get_column(column).is_finite().fill_null(False)
            if not finite.all():
                step = int(finite.arg_min() or 0)
                raise UsageError(f"{path}: {column}: not a finite number at step {step} "
                                 f"({metrics.get_column(column)[step]})")


# --------------------------------------------------------------------------- listing


def scan_runs(root: str | Path, verify: bool = False) -> tuple[list[dict[str, Any]], list[str]]:
    """The complete runs directly under ``root`` and the damaged ones: (the manifests of the
    readable runs, oldest first, each with its ``path``; one line per damaged folder, naming
    it and what is wrong). Hidden folders (a run's staging, a checkpoint) and folders without
    a manifest (not runs, or interrupted) are neither. Each run's manifest is checked, its
    files present with their recorded sizes, its scenario a mapping, its Parquet footers
    readable with the columns the readers need and a row per step; with ``verify`` every
    file's SHA-256 too (which reads every file whole: what a query of the data needs, not
    a listing)."""
    base = Path(root)
    found: list[dict[str, Any]] = []
    damaged: list[str] = []
    if not base.is_dir():
        return found, damaged
    for d in sorted(base.iterdir()):
        if d.name.startswith(".") or not d.is_dir() or not (d / "manifest.json").is_file():
            continue
        try:
            m = read_manifest(d)
            check_files(d, m, verify)
            read_scenario(d / "scenario.yaml")
            _check_rows(d / "metrics.parquet", _rows(d / "metrics.parquet"), m)
            if verify:  # (the data is read whole then anyway)
                _check_finite(d / "metrics.parquet", _read(d / "metrics.parquet"))
            for name in OWN_STEPS:
                if (d / f"{name}.parquet").is_file():
                    _check_steps(d / f"{name}.parquet", _rows(d / f"{name}.parquet"), m)
        except UsageError as e:
            damaged.append(str(e))
            continue
        m = {**m, "path": str(d)}
        found.append(m)
    found.sort(key=lambda m: (str(m.get("created", "")), m["path"]))
    return found, damaged
