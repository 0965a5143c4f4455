"""Shared fixtures. ``ray_session``: one local Ray instance for the whole test session, used
only by the tests that ask for it (sweeps and sharded runs on Ray); ``runner``: a typer
command-line runner."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner


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
