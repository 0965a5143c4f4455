"""Ray, imported and started in one place: for sharded runs (``engine.sharded``) and for
sweeps on Ray (``sweep.backends``).

Ray is an optional extra; both functions turn its absence, or a Ray that cannot be started
or joined, into a one-line ``UsageError`` that names the option the user gave (``what``).
"""

from __future__ import annotations

from typing import Any

from scorelab.errors import UsageError


def import_ray(what: str) -> Any:
    """The ``ray`` module, or a UsageError saying how to install it (``what``: the option
    that needs it, e.g. ``--shards``)."""
    try:
        import ray
    except ImportError:
        raise UsageError(f"{what} needs Ray, which is not installed: pip install 'scorelab[ray]'") from None
    return ray


def start_ray(what: str, address: str | None = None, num_cpus: int | None = None,
              log_to_driver: bool = True) -> tuple[Any, bool]:
    """``(ray, started)``: the Ray instance already initialised in this process, else a local
    one started here (``num_cpus`` CPUs, no dashboard) or the cluster at ``address`` joined.
    ``started`` says whether this call started or joined it, so that the caller shuts it
    down when done. Failing to start or join is a UsageError naming ``what``."""
    import logging

    ray = import_ray(what)
    if ray.is_initialized():
        return ray, False
    kw: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": log_to_driver}
    if address:
        kw["address"] = address
    else:
        kw["include_dashboard"] = False
        if num_cpus is not None:
            kw["num_cpus"] = num_cpus
    try:
        ray.init(**kw)
    except Exception as e:  # noqa: BLE001 - connection problems, a bad address
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise UsageError(f"{what}: cannot start or join Ray{' at ' + address if address else ''}: {first}") from None
    return ray, True
