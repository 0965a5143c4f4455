"""Serving the explorer: Solara's Starlette app under uvicorn, on 127.0.0.1 unless told.

Every asset is served by this server: Solara's front end comes from the ``solara-assets``
package (installed with the ``explore`` extra) and its fetch from a CDN is replaced by a
refusal, so the page works with no network and never sends the server elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from scorelab.errors import UsageError, require_extra


def _offline() -> None:
    """No asset is ever fetched from a CDN: a missing one is an error, not a request out."""
    import solara.server.cdn_helper as cdn

    def refuse(url: str) -> bytes:
        raise RuntimeError(f"scorelab explore serves only local assets; not fetching {url}")

    cdn.fetch_from_cdn = refuse


def check_assets() -> None:
    """UsageError if Solara's front end is not installed locally (the ``solara-assets`` package)."""
    import solara.server.settings as settings

    main = settings.assets.proxy_cache_dir / "requirejs@2.3.6" / "require.js"
    if not main.is_file():
        raise UsageError(f"scorelab explore: Solara's front-end files are missing ({main}); "
                         "install them with: pip install 'scorelab[explore]'")


def _warm(ref: str) -> None:
    """Load the kernels and matplotlib while the first tab is being opened (a tiny view, not shown)."""
    from scorelab.explore.views import run_view, start_of

    try:
        run_view(start_of(ref), {}, 100, seeds=1).with_figures()
    except Exception:  # (the page will show what goes wrong with a real view)
        pass


def serve(choices: list[str], people: int, host: str, port: int, save: Path | None,
          announce: Any = print) -> None:
    """Start the explorer on ``host:port`` and serve until interrupted (``announce`` gets its address)."""
    require_extra("solara", "explore", "scorelab explore")
    os.environ.setdefault("SOLARA_TELEMETRY_MIXPANEL_ENABLE", "false")
    os.environ["SOLARA_APP"] = "scorelab.explore.app:Page"
    import uvicorn

    from scorelab.explore import app

    check_assets()
    _offline()
    app.CONFIG.choices, app.CONFIG.people, app.CONFIG.save = choices, people, save
    config = uvicorn.Config("solara.server.starlette:app", host=host, port=port, log_level="warning",
                            ws_max_size=1 << 24)
    server = uvicorn.Server(config)
    import threading

    threading.Thread(target=_warm, args=(choices[0],), daemon=True, name="scorelab-warm-up").start()
    shown = f"[{host}]" if ":" in host else host
    announce(f"scorelab explore: http://{shown}:{port}/ (Ctrl-C stops it)")
    server.run()
