"""The population cache: a built population and its stored contact layers kept on disk, so that
every run and sweep of the same population loads it instead of building it again.

An entry is keyed by a hash of exactly what determines it:

* a population (``pop-<key>.npz``): the resolved ``population`` section, ``run.seed``, the
  sources the build runs (``code_stamp``: every scorelab module the synthetic world imports,
  followed through their imports, as ``jit_cache.source_stamp`` does for the kernels; they are
  listed in ``BUILD_SOURCES``), numpy's and numba's versions and the entry format;
* a stored contact layer (``layer-<key>.npz``): its population's key, the layer's name and its
  section (``contacts.<layer>``). The household layer (the population's household ranges) and
  drawn layers (a few tables made in milliseconds) are not stored.

``--scale`` changes ``population.people``, so it is in the key. The build does not depend on
``chunks`` (docs/population.md), so neither does the key.

An entry is a zip of ``.npy`` arrays, stored uncompressed, with ``meta.json`` (the key, the
format, the non-array fields); it is written under a temporary name and renamed (atomic), and read
through zip's CRC-32 of every member: a damaged or truncated entry, one from another key or
format, or one whose arrays do not fit together is ignored, removed and rebuilt (never a wrong
population, never a traceback). Where the cache lives: ``SCORELAB_CACHE_DIR``, else
``$XDG_CACHE_HOME/scorelab``, else ``~/.cache/scorelab``; ``SCORELAB_NO_CACHE=1`` (or a run's
``--no-cache``) switches it off. The least recently used entries are removed beyond
``SCORELAB_CACHE_MAX_MB`` (default 2048). See docs/population-cache.md.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import zipfile
from dataclasses import fields
from pathlib import Path
from typing import Any, Literal

import numpy as np

from scorelab.atomic import write_with
from scorelab.scenario.model import Scenario, layers_read
from scorelab.synth.contacts import STORED, Contacts, CSRLayer, build_contacts
from scorelab.synth.population import Firms, Population, Schools, build_population

__all__ = ["BUILD_SOURCES", "DEFAULT_MAX_MB", "FORMAT", "build_sources", "cache_folder", "cached_world", "clear",
           "code_stamp", "entries", "layer_key", "max_bytes", "population_key"]

#: The entry format; a change makes every older entry a miss.
FORMAT = 1
#: The cache's default size cap, in MiB (``SCORELAB_CACHE_MAX_MB``).
DEFAULT_MAX_MB = 2048

_log = logging.getLogger("scorelab")
ROOT = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------------------- where and what


def cache_folder() -> Path | None:
    """The population cache's folder, or None where it is switched off (``SCORELAB_NO_CACHE``)."""
    if os.environ.get("SCORELAB_NO_CACHE", "").strip() not in ("", "0"):
        return None
    given = os.environ.get("SCORELAB_CACHE_DIR", "").strip()
    if given:
        return Path(given).expanduser() / "populations"
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(base) if base else Path.home() / ".cache") / "scorelab" / "populations"


#: The sources the population's key covers: the synthetic world's build and every scorelab
#: module it imports, followed through (``tests/test_population_cache.py`` computes that closure
#: from the imports and checks that this covers it; reading them is a few milliseconds, parsing
#: them for their imports at every run took 0.05 s).
BUILD_SOURCES = ("synth", "scenario", "rng.py", "jit_cache.py", "jit_lazy.py", "errors.py", "units.py",
                 "lazy_pages.py", "compile_helpers.py")


def build_sources() -> list[Path]:
    """The files of ``BUILD_SOURCES``."""
    out: list[Path] = []
    for name in BUILD_SOURCES:
        path = ROOT / name
        out += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return out


@functools.lru_cache(maxsize=None)
def code_stamp() -> str:
    """A hash of ``build_sources()``: a change to any code the build runs makes every entry a miss."""
    h = hashlib.sha256()
    for path in build_sources():
        h.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def _hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:32]


def population_key(scenario: Scenario) -> str:
    """The key of the scenario's population: what determines it, hashed."""
    import numba

    return _hash({"format": FORMAT, "code": code_stamp(), "numpy": np.__version__, "numba": numba.__version__,
                  "seed": int(scenario.run.seed), "population": scenario.population.model_dump(mode="json")})


def layer_key(scenario: Scenario, layer: str) -> str:
    """The key of one stored contact layer of the scenario's population."""
    spec = getattr(scenario.contacts, layer)
    return _hash({"population": population_key(scenario), "layer": layer, "spec": spec.model_dump(mode="json")})


# --------------------------------------------------------------------------- entries


def _write_entry(path: Path, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """An entry, atomically (``atomic.write_with``: complete or absent, even with two runs
    writing it at once): ``meta.json`` and one uncompressed ``.npy`` member per array."""
    path.parent.mkdir(parents=True, exist_ok=True)

    def write(tmp: Path) -> None:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
            zf.writestr("meta.json", json.dumps(meta, sort_keys=True))
            for name, a in arrays.items():
                with zf.open(f"{name}.npy", "w", force_zip64=True) as fh:
                    np.lib.format.write_array(fh, np.ascontiguousarray(a), allow_pickle=False)

    write_with(path, write, "write the population cache")


def _read_entry(path: Path, key: str) -> tuple[dict[str, Any], dict[str, np.ndarray]] | None:
    """An entry's meta and arrays; None if it is missing. Raises ValueError (or zip's, numpy's
    errors) if it is damaged or not this key's: every member is read through its CRC-32."""
    try:
        zf = zipfile.ZipFile(path)
    except FileNotFoundError:
        return None
    with zf:
        meta = json.loads(zf.read("meta.json"))
        if meta.get("key") != key or meta.get("format") != FORMAT:
            raise ValueError("another key or format")
        arrays = {}
        for name in meta["arrays"]:
            with zf.open(f"{name}.npy") as fh:
                arrays[name] = np.lib.format.read_array(fh, allow_pickle=False)
                if fh.read(1):  # (also reaches the member's end, where zip checks its CRC-32)
                    raise ValueError(f"{name}: bytes after the array")
    return meta, arrays


def _load(path: Path, key: str, build: Any) -> Any:
    """What ``build(meta, arrays)`` makes of the entry, or None for a miss; a damaged entry is
    removed (and so rebuilt) with a warning."""
    try:
        got = _read_entry(path, key)
        if got is None:
            return None
        out = build(*got)
    except Exception as e:  # (damage shows as zip's, numpy's, json's or our own error)
        _log.warning(f"population cache: {path.name} is damaged or stale ({type(e).__name__}: "
                     f"{(str(e).splitlines() or [''])[0]}); building it again")
        path.unlink(missing_ok=True)
        return None
    os.utime(path)  # (recently used: the size cap removes the oldest first)
    return out


def _population_entry(pop: Population) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    meta: dict[str, Any] = {}
    arrays: dict[str, np.ndarray] = {}
    for f in fields(pop):
        v = getattr(pop, f.name)
        if isinstance(v, np.ndarray):
            arrays[f.name] = v
        elif isinstance(v, (Firms, Schools)):
            arrays.update({f"{f.name}.{g.name}": getattr(v, g.name) for g in fields(v)})
        else:
            meta[f.name] = list(v) if isinstance(v, tuple) else v
    return meta, arrays


def _population_from(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> Population:
    """The Population an entry holds, its arrays checked against each other."""
    kw: dict[str, Any] = {}
    for f in fields(Population):
        if f.name in ("firms", "schools"):
            cls = Firms if f.name == "firms" else Schools
            kw[f.name] = cls(**{g.name: arrays[f"{f.name}.{g.name}"] for g in fields(cls)})
        elif f.name in arrays:
            kw[f.name] = arrays[f.name]
        else:
            v = meta[f.name]
            kw[f.name] = tuple(v) if isinstance(v, list) else v
    pop = Population(**kw)
    n = pop.n
    if any(a.shape != (n,) for a in pop.person_columns().values()) or int(pop.household_start[-1]) != n:
        raise ValueError("the columns do not fit together")
    if any(getattr(pop.firms, g.name).shape != (pop.firms.n,) for g in fields(Firms)) or \
            any(getattr(pop.schools, g.name).shape != (pop.schools.n,) for g in fields(Schools)):
        raise ValueError("the firm or school columns do not fit together")
    return pop


def _layer_from(name: str, n: int) -> Any:
    def build(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> CSRLayer:
        indptr, indices = arrays["indptr"], arrays["indices"]
        if indptr.shape != (n + 1,) or int(indptr[0]) != 0 or int(indptr[-1]) != indices.shape[0] or \
                (indices.size and (int(indices.min()) < 0 or int(indices.max()) >= n)):
            raise ValueError("the layer does not fit its population")
        return CSRLayer(name, indptr, indices)
    return build


# --------------------------------------------------------------------------- the world


def cached_world(scenario: Scenario, layers: Literal["all", "read", "none"] = "read",
                 use_cache: bool = True) -> tuple[Population, Contacts]:
    """``synth.world.build_world(scenario, layers=layers)``, through the cache (unless
    ``use_cache`` is False or the cache is switched off): the same arrays, byte for byte."""
    from scorelab.synth.world import build_world

    folder = cache_folder() if use_cache else None
    if folder is None:
        return build_world(scenario, layers=layers)
    only = layers_read(scenario) if layers == "read" else None
    key = population_key(scenario)
    path = folder / f"pop-{key}.npz"
    pop = _load(path, key, _population_from)
    wrote = False
    if pop is None:
        pop = build_population(scenario.population, scenario.run.seed)
        meta, arrays = _population_entry(pop)
        wrote = _store(path, {**meta, "key": key, "format": FORMAT, "arrays": list(arrays)}, arrays)
    if layers == "none":  # (a sharded run's driver, whose actors build their own)
        if wrote:
            _trim(folder, max_bytes())
        return pop, Contacts({})
    stored: dict[str, CSRLayer] = {}
    spec = scenario.contacts
    for name in STORED:
        s = getattr(spec, name)
        if not s.enabled or getattr(s, "storage", "stored") != "stored" or (only is not None and name not in only):
            continue
        lkey = layer_key(scenario, name)
        lpath = folder / f"layer-{lkey}.npz"
        layer = _load(lpath, lkey, _layer_from(name, pop.n))
        if layer is None:
            layer = build_contacts(pop, spec, scenario.run.seed, only={name})[name]
            wrote = _store(lpath, {"key": lkey, "format": FORMAT, "arrays": ["indptr", "indices"]},
                           {"indptr": layer.indptr, "indices": layer.indices}) or wrote
        stored[name] = layer
    rest = build_contacts(pop, spec, scenario.run.seed, only=[n for n in (only or _all_layers()) if n not in stored])
    if wrote:
        _trim(folder, max_bytes())
    order = [n for n in ("household", *STORED) if n in stored or n in rest]
    return pop, Contacts({n: stored[n] if n in stored else rest[n] for n in order})


def _all_layers() -> tuple[str, ...]:
    return ("household", *STORED)


def _store(path: Path, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> bool:
    """Write an entry; a cache that cannot be written (a full disk, a read-only folder) is only
    skipped, with a warning: the run goes on with what it built."""
    try:
        _write_entry(path, meta, arrays)
        return True
    except Exception as e:
        _log.warning(f"population cache: cannot write {path}: {(str(e).splitlines() or [''])[0]}")
        return False


# --------------------------------------------------------------------------- size


def max_bytes() -> int:
    """The cache's size cap in bytes (``SCORELAB_CACHE_MAX_MB``, default ``DEFAULT_MAX_MB``)."""
    try:
        mb = float(os.environ.get("SCORELAB_CACHE_MAX_MB", DEFAULT_MAX_MB))
    except ValueError:
        mb = DEFAULT_MAX_MB
    return int(mb * (1 << 20))


def entries(folder: Path | None = None) -> list[tuple[Path, int, float]]:
    """The cache's entries as (path, bytes, last used), most recently used first."""
    folder = folder if folder is not None else cache_folder()
    if folder is None or not folder.is_dir():
        return []
    out = []
    for p in folder.glob("*.npz"):
        try:
            st = p.stat()
        except FileNotFoundError:  # (removed meanwhile by another process)
            continue
        out.append((p, st.st_size, st.st_mtime))
    return sorted(out, key=lambda e: -e[2])


def _trim(folder: Path, cap: int) -> None:
    """Remove the least recently used entries until the cache holds at most ``cap`` bytes."""
    total = 0
    for path, size, _ in entries(folder):
        total += size
        if total > cap:
            path.unlink(missing_ok=True)


def clear(folder: Path | None = None) -> tuple[int, int]:
    """Remove every entry (and leftovers of interrupted writes); returns (files, bytes) removed."""
    folder = folder if folder is not None else cache_folder()
    if folder is None or not folder.is_dir():
        return 0, 0
    n = size = 0
    for p in list(folder.glob("*.npz")) + list(folder.glob(".*.tmp")):
        try:
            size += p.stat().st_size
            p.unlink()
            n += 1
        except FileNotFoundError:
            continue
    return n, size
