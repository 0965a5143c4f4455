"""The ``scorelab cache`` command: what the population cache holds, and clearing it."""

from __future__ import annotations

from typing import Annotated

import typer

from scorelab.cli.common import say


def cache(clear: Annotated[bool, typer.Option("--clear", help="remove every entry")] = False) -> None:
    """Show the population cache (built populations and contact layers kept for later runs;
    docs/population-cache.md): its folder, entries and size; --clear empties it."""
    from scorelab.synth import cache as popcache

    folder = popcache.cache_folder()
    if folder is None:
        say("the population cache is switched off (SCORELAB_NO_CACHE)")
        return
    if clear:
        n, size = popcache.clear(folder)
        say(f"{folder}: removed {n} entr{'y' if n == 1 else 'ies'} ({size / 2**20:,.1f} MiB)")
        return
    found = popcache.entries(folder)
    total = sum(size for _, size, _ in found)
    cap = popcache.max_bytes()
    say(f"{folder}: {len(found)} entr{'y' if len(found) == 1 else 'ies'}, {total / 2**20:,.1f} MiB "
        f"(at most {cap / 2**20:,.0f} MiB: SCORELAB_CACHE_MAX_MB; the least recently used go first)")
