"""The shop assistant's web chat widget: static HTML, CSS and vanilla JS modules.

Everything it needs is in ``static/`` (no CDN, no external fonts, no build step). The page
talks only to the assistant API (``/v1/assistant/...``); the API serves it with
``switchboard.api.web_routes.install_web``.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["static_dir"]


def static_dir() -> Path:
    """The folder holding ``index.html``, ``app.js`` and ``style.css``."""
    return Path(__file__).parent / "static"
