"""Shared fixtures. ``population_cache`` (every test): the population cache in the session's
temporary folder. ``ray_session``: one local Ray instance for the whole test session, used
only by the tests that ask for it (sweeps and sharded runs on Ray); ``runner``: a typer
command-line runner.

On a cold cache (a fresh clone) the day loop's kernels take minutes to compile, and a worker
that needs one another worker is compiling waits for it (``scorelab.jit_cache``: each function
is compiled by one process, the others load it). So one file that compiles them
(``FIRST_COMPILE``) starts first, and the files that compile no kernel (``NO_KERNELS``) and
those that compile only the small random-number and population ones (``SMALL_KERNELS``,
compiled at the same time) come next, to keep the other worker busy meanwhile, then the longest
files (``LONGEST``, about half the suite's time), so that the last files to finish are short ones
and neither worker waits long for the other (the order is kept: ``--no-loadscope-reorder``, since
pytest-xdist otherwise starts the files with the most tests first). A test of a
``NO_KERNELS`` file that compiles a scorelab kernel fails, so the list stays true (seen on a
cold cache, as in CI; a warm one loads without compiling)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

NO_KERNELS = ("test_architecture.py", "test_credit_code.py", "test_docs_sources.py", "test_scenario.py",
              "test_scenario_bounds.py", "test_scenario_files.py", "test_scenario_fuzz.py", "test_steps.py",
              "test_bench_reduced.py")


FIRST_COMPILE = "test_association.py"
SMALL_KERNELS = ("test_rng.py", "test_population.py", "test_contacts.py", "test_city_contacts.py")
#: the files taking longest, longest first (``--durations=0``, summed by file, on a warm cache)
LONGEST = ("test_docs_examples.py", "test_report.py", "test_scale.py", "test_preset_checks.py", "test_sweep.py",
           "test_checkpoint.py", "test_cli_fuzz.py", "test_explore.py", "test_sharded.py")


def _start_order(item: pytest.Item) -> tuple[int, int]:
    name = item.path.name
    if name in LONGEST:
        return 3, LONGEST.index(name)
    return (0 if name == FIRST_COMPILE else 1 if name in NO_KERNELS else 2 if name in SMALL_KERNELS else 4), 0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_start_order)  # (stable: each part keeps its order)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    if item.path.name not in NO_KERNELS:
        yield
        return
    from numba.core import event

    compiled: list[str] = []

    class Seen(event.Listener):
        def on_start(self, ev: event.Event) -> None:
            f = getattr(ev.data.get("dispatcher"), "py_func", None)
            if f is not None and f.__module__.startswith("scorelab."):
                compiled.append(f"{f.__module__}.{f.__qualname__}")

        def on_end(self, ev: event.Event) -> None:
            pass

    listener = Seen()
    event.register("numba:compile", listener)
    try:
        yield
    finally:
        event.unregister("numba:compile", listener)
    if compiled:
        pytest.fail(f"{item.path.name} is listed in conftest.NO_KERNELS but compiled {compiled[0]}")


@pytest.fixture(scope="session", autouse=True)
def population_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The population cache (``scorelab.synth.cache``) in the session's temporary folder, never
    the user's: set before anything else (Ray's workers inherit it). Tests that build the same
    population share its entries."""
    import os

    folder = tmp_path_factory.mktemp("population-cache")
    old = {k: os.environ.get(k) for k in ("SCORELAB_CACHE_DIR", "SCORELAB_NO_CACHE")}
    os.environ["SCORELAB_CACHE_DIR"] = str(folder)
    os.environ.pop("SCORELAB_NO_CACHE", None)
    try:
        yield folder
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="session")
def ray_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """``ray.init(num_cpus=2)`` once per session, without token authentication
    (``RAY_AUTH_MODE=disabled``), its temporary folder inside the session's own temporary
    folder. The path is kept short: Ray's socket paths have a length limit (about 107
    bytes on Linux)."""
    ray = pytest.importorskip("ray")
    temp = tmp_path_factory.mktemp("ray")
    if len(str(temp)) > 60:  # pragma: no cover - an unusually deep basetemp
        pytest.skip(f"temporary folder {temp} too long for Ray's socket paths")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAY_AUTH_MODE", "disabled")
        ray.init(num_cpus=2, _temp_dir=str(temp), include_dashboard=False, configure_logging=False,
                 log_to_driver=False)
        try:
            yield ray
        finally:
            ray.shutdown()


@pytest.fixture()
def runner() -> CliRunner:
    return CliRunner()
