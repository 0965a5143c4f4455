"""``scorelab run --replicates N``: one scenario run with N seeds, each a results folder of its
own under one folder, and a summary of means with 95 % intervals (a statement about an effect
needs more than one seed; ``scorelab report FOLDER`` reports them as replicates)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from scorelab.cli.common import load_scenario, print_table, say, say_lines, table, wrapped

#: Most replicates one command runs (a sweep is the tool for more).
MAX_REPLICATES = 100


def replicate_folder(folder: Path, seed: int) -> Path:
    """Where the replicate of ``seed`` is written."""
    return folder / f"seed-{seed}"


def replicate_targets(folder: Path, base_seed: int, replicates: int | None) -> list[Path]:
    """The results folders a run writes: ``folder`` itself, or one per replicate seed."""
    from scorelab.sweep.design import replicate_seeds

    if replicates is None:
        return [folder]
    return [replicate_folder(folder, s) for s in replicate_seeds(base_seed, replicates)]


def run_replicates(source: str, sets: list[str], scale: float | None, base_seed: int, replicates: int, folder: Path,
                   execute_one: Callable[[Any, Path, str], Any], command: str) -> list[Any]:
    """Run the scenario once per replicate seed (``sweep.design.replicate_seeds``: consecutive
    seeds from the scenario's, the first being the scenario as written) and return the Results."""
    from scorelab.sweep.design import replicate_seeds

    results = []
    for i, seed in enumerate(replicate_seeds(base_seed, replicates)):
        say(f"replicate {i + 1} of {replicates} (seed {seed})", err=True)
        scenario = load_scenario(source, sets, seed, scale)
        results.append(execute_one(scenario, replicate_folder(folder, seed), f"{command} (replicate seed {seed})"))
    return results


def print_replicate_summary(results: list[Any], folder: Path) -> None:
    """The verdict with intervals, then every headline figure's mean and 95 % interval."""
    from scorelab.intervals import shown_mean
    from scorelab.verdict import verdict
    from scorelab.metrics import worst_over_runs
    from scorelab.vocabulary import WORST_HIT, figure_unit

    heads = [r.summary() for r in results]
    say(f"What the system did, against its counterfactual twin (means of {len(results)} seeds, 95 % intervals):")
    for sentence in verdict(results):
        say_lines(wrapped(f"- {sentence}", indent="  "))
    seeds = ", ".join(str(r.seed) for r in results)
    out = table(f"{results[0].manifest['scenario']}, {len(results)} replicates (seeds {seeds}), against the twin")
    for col, just in (("what", "left"), ("mean", "right"), ("95 % interval", "right"), ("unit", "left")):
        out.add_column(col, justify=just)  # type: ignore[arg-type]
    for k in dict.fromkeys(x for h in heads for x in h):
        values = [h.get(k) for h in heads]
        if all(v is None or isinstance(v, float) for v in values):
            mean, ci = shown_mean(k, values)  # type: ignore[arg-type]
        else:
            mean, ci = worst_over_runs(results, k) if k in WORST_HIT.values() else (
                str(values[0]) if len(set(map(str, values))) == 1 else "differs by seed (see each run)"), ""
        out.add_row(k, mean, ci, figure_unit(k) if any(v is not None for v in values) else "")
    print_table(out)
    say(f"results: {folder} (one folder per seed; scorelab report {folder} reports them together)")
