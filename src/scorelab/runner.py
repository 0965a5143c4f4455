"""Running a scenario: build its synthetic world, run the day loop beside the counterfactual
twin, and wrap the output as a ``Result`` (saved as a results folder when asked).

``scorelab.run`` and ``scorelab.resume`` are ``run`` and ``resume`` here; a sweep's tasks and a
calibration's trials run through ``run`` too. The engine (``scorelab.engine``) is imported when
a run starts, so that importing this module stays cheap.
"""

from __future__ import annotations

import datetime as _dt
import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scorelab import atomic, compile_helpers
from scorelab.errors import UsageError
from scorelab.results import Result
from scorelab.tables import people_frame

if TYPE_CHECKING:
    from scorelab.scenario.model import Scenario

#: The day loop's entry point in this process and on threads or shards: most of a cold compile,
#: so the compile helpers start with the one the run needs (``compile_helpers.compile_first``)
LOOP_ENTRY = {"one": "scorelab.engine.kernel.entry.run_steps", "sharded": "scorelab.engine.kernel.entry.local_phase"}
#: Said when a run starts compiling the kernels (a first run, or after scorelab changed)
COMPILING = ("compiling the simulation kernels (first run only: about a minute and a half of CPU on a 2-core "
             "machine; later runs load them from the cache)")


def _log_compiling() -> None:
    logging.getLogger("scorelab").warning(COMPILING)


def run(
    scenario: "Scenario | Any",
    overrides: dict[str, Any] | None = None,
    *,
    out: str | Path | None = None,
    people_state: bool = False,
    progress: Callable[[int, int], None] | None = None,
    check_memory: bool = True,
    checkpoint_every: int | None = None,
    shards: int | None = None,
    ray_address: str | None = None,
    threads: int = 1,
    cache: bool = True,
) -> Result:
    """``scorelab.run``: load ``scenario`` (with ``overrides``) unless it is a Scenario, check
    that the run fits in memory (``check_memory``), then ``execute`` it (``cache``: through the
    population cache, ``synth.cache``)."""
    from scorelab import memory
    from scorelab.scenario.loader import load
    from scorelab.scenario.model import Scenario as _Scenario

    if not isinstance(scenario, _Scenario) or overrides:
        scenario = load(scenario if not isinstance(scenario, _Scenario) else scenario.model_dump(mode="json", by_alias=True), overrides)
    if check_memory:
        workers = shards if shards is not None and ray_address is None else (threads if shards is None else 1)
        est, need, avail, fits = memory.check(scenario, workers, processes=shards is not None)
        if not fits:
            raise UsageError(f"the run needs about {memory.human(need)} of memory but about "
                             f"{memory.human(avail or 0)} is available; reduce population.people or use a Ray cluster")
    return execute(scenario, out=out, people_state=people_state, progress=progress, command="scorelab.run(...)",
                   checkpoint_every=checkpoint_every, shards=shards, ray_address=ray_address, threads=threads,
                   cache=cache)


def resume(
    out: str | Path,
    *,
    progress: Callable[[int, int], None] | None = None,
    on_built: Callable[[float], None] | None = None,
    ray_address: str | None = None,
) -> Result:
    """Continue a checkpointed run whose results folder would be ``out`` (see ``execute``);
    the result is byte-identical to the run never having stopped. A sharded run continues
    with as many shards (on the Ray cluster at ``ray_address``, or a local Ray)."""
    from scorelab.engine.checkpoint import Checkpoint, folder_for
    from scorelab.scenario.loader import load

    final = Path(out)
    if (final / "manifest.json").is_file():
        raise UsageError(f"{final}: the run is already complete; nothing to resume")
    if not folder_for(final).is_dir():
        raise UsageError(f"{final}: no checkpoint to resume (no {folder_for(final).name} beside it; "
                         f"was the run started with --checkpoint-every?)")
    _, data, options = Checkpoint.open(folder_for(final))
    atomic.remove_stale_staging(final)
    shards = options.get("shards")
    return execute(load(data), out=final, people_state=bool(options.get("people_state", False)), progress=progress,
                   on_built=on_built, command=str(options.get("command", "")), resume=True,
                   shards=int(shards) if shards is not None else None, ray_address=ray_address,
                   threads=int(options.get("threads", 1)))


def _day_loop(scenario: "Scenario", pop: Any, contacts: Any, progress: Callable[[int, int], None] | None,
              checkpoint: Any, staging: Path | None, shards: int | None, ray_address: str | None,
              threads: int) -> Any:
    """The day loop with its twin, on Ray shards, on threads or in this process; no records are
    kept (a results folder holds none: they are freed before the result tables are built)."""
    from scorelab.engine.sharded import simulate_sharded
    from scorelab.engine.simulation import simulate

    if shards is not None:
        return simulate_sharded(scenario, pop, contacts, shards, backend="ray", address=ray_address,
                                progress=progress, checkpoint=checkpoint, keep_records=False)
    if threads > 1:
        return simulate_sharded(scenario, pop, contacts, threads, backend="threads", progress=progress,
                                checkpoint=checkpoint, keep_records=False)
    # the population's columns the loop does not read wait in the staging folder meanwhile
    park = staging / ".population" if staging is not None else None
    return simulate(scenario, pop, contacts, progress, checkpoint, keep_records=False, park=park)


def layers_built(scenario: "Scenario", shards: int | None, ray_address: str | None) -> str:
    """The contact layers this process builds: those the day loop reads, none where the day
    loop runs on a Ray cluster whose actors build their own cities (``simulate_sharded``)."""
    if shards is not None:
        from scorelab.engine.sharded import divide_for

        if divide_for(scenario, "ray", ray_address, None) == "cities":
            return "none"
    return "read"


def _disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` is the disk's doing (full, no quota left), wherever the run was writing
    (the staging folder, the population parked there, a checkpoint)."""
    err = atomic.os_error(exc)
    return err is not None and err.errno in atomic.DISK_FULL


def execute(
    scenario: "Scenario",
    *,
    out: str | Path | None = None,
    people_state: bool = False,
    progress: Callable[[int, int], None] | None = None,
    on_built: Callable[[float], None] | None = None,
    command: str | None = None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    on_compile: Callable[[], None] | None = None,
    shards: int | None = None,
    ray_address: str | None = None,
    threads: int = 1,
    cache: bool = True,
) -> Result:
    """Build the population (or load it from the population cache, ``synth.cache``, unless
    ``cache`` is False: the same arrays either way), run the day loop with its twin, wrap the output and (if ``out``)
    save the results folder atomically. The staging folder exists from the start (an
    unwritable ``out`` fails before any work) and is removed if anything goes wrong.

    With ``checkpoint_every`` the state is saved every that many steps in the hidden
    ``.<out>.checkpoint`` folder, which survives a failed or killed run and is removed once
    the results folder is complete; with ``resume`` the run continues from that folder.

    With ``shards`` the regions are split over that many Ray actors (``ray_address``: an
    existing cluster; default a local Ray), with the same result as one process; with
    ``threads`` above 1 (and no shards) over that many threads of this process (at most one per
    region: ``engine.sharded.threads_for``), with the same result too.

    ``on_compile`` is called once if the kernels have to be compiled (default: a logged
    warning, ``COMPILING``); compilation never counts in the run's time or speed."""
    from scorelab import memory
    from scorelab.engine.checkpoint import Checkpoint, folder_for
    from scorelab.jit_cache import compile_watch
    from scorelab.synth.cache import cached_world

    created = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    final = Path(out) if out is not None else None
    if (checkpoint_every or resume) and final is None:
        raise UsageError("checkpoints need a results folder (--out)")
    if shards is not None:
        from scorelab.engine.sharded import check_shards

        check_shards(scenario, shards)
    if shards is None and threads > 1:
        from scorelab.engine.sharded import threads_for

        threads = threads_for(scenario, threads)
    staging = atomic.prepare(final) if final is not None else None
    checkpoint = None
    try:
        if final is not None and resume:
            checkpoint = Checkpoint.open(folder_for(final))[0]
        elif final is not None and checkpoint_every:
            data = scenario.model_dump(mode="json", by_alias=True)
            checkpoint = Checkpoint.create(folder_for(final), checkpoint_every, data,
                                           {"people_state": bool(people_state), "command": command or "",
                                            "shards": shards, "threads": threads if shards is None else 1})
        scenario_yaml = None
        if staging is not None:  # the scenario first: a partial folder says what was running
            from scorelab.scenario.yamlread import dump_yaml

            scenario_yaml = dump_yaml(scenario.model_dump(mode="json", by_alias=True))
            (staging / "scenario.yaml").write_text(scenario_yaml, encoding="utf-8")
        t_start = time.perf_counter()
        compile_helpers.compile_first(LOOP_ENTRY["one" if shards is None and threads == 1 else "sharded"])
        # (the build compiles the synthetic world's jitted functions, the day loop the kernels)
        with compile_watch(on_compile or _log_compiling) as compiling:
            # only the layers the day loop reads: the others would cost time and memory for nothing
            # (none where the actors of a cluster build their own: engine.shard_build)
            pop, contacts = cached_world(scenario, layers=layers_built(scenario, shards, ray_address), use_cache=cache)
            memory.release()  # the build's transient pages, which the day loop's arrays would not reuse
            if on_built is not None:
                on_built(time.perf_counter() - t_start - compiling.seconds)
            output = _day_loop(scenario, pop, contacts, progress, checkpoint, staging, shards, ray_address, threads)
        # the result tables read the plan's names and sizes only: the plan's arrays and the contact
        # layers (about a third of what the results phase held) are freed before they are built
        output.plan = output.plan.without_tables()
        del contacts
        memory.release()  # their pages, and the freed day-loop state's, back to the system
        people = people_frame(output, pop)
        # the other tables read `people` only: the population's columns and the end-state arrays
        # that `people` holds converted (grades, flags) are freed before they are built
        del pop
        output.people = {}
        memory.release()
        run_id = final.name if final is not None else None
        result = Result.from_people(output, scenario, people, run_id=run_id, command=command, created=created)
        result.manifest["loop_seconds"] = result.manifest["wall_seconds"]
        result.manifest["resumed_from_step"] = int(output.first_step)
        result.manifest["wall_seconds"] = time.perf_counter() - t_start - compiling.seconds
        result.manifest["compile_seconds"] = compiling.seconds
        result.manifest["threads"] = threads if shards is None else 1
        if staging is not None and final is not None:
            try:
                result.write_into(staging, people=people_state, name=final, scenario_yaml=scenario_yaml)
            except UsageError as e:  # (a full disk: the staging folder is removed below)
                kept = f"; {checkpoint.intact()}" if checkpoint is not None else ""
                raise UsageError(f"{e}; nothing was written there{kept}") from None
            result.manifest["people_state"] = bool(people_state)
            result.path = atomic.commit(staging, final)
        if checkpoint is not None:
            shutil.rmtree(checkpoint.folder, ignore_errors=True)
        return result
    except BaseException as exc:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, Exception) and not isinstance(exc, UsageError) and _disk_full(exc):
            kept = f"; {checkpoint.intact()}" if checkpoint is not None else ""
            raise atomic.write_failure(final or Path("."), "finish the run", exc, f"nothing was written there{kept}") from None
        raise
