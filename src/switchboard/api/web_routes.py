"""The web chat widget: ``GET /`` serves its page, ``/static`` its scripts, styles and icon.

Every response says ``Cache-Control: no-cache``: browsers keep the files but revalidate
them (ETag / Last-Modified, answered 304), so a new release is never hidden by a stale
``app.js``.
"""

from __future__ import annotations

import os

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import Scope

from switchboard.web import static_dir

_NO_CACHE = {"Cache-Control": "no-cache"}


class _RevalidatedStaticFiles(StaticFiles):
    """Static files the browser must revalidate before reusing."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers.update(_NO_CACHE)
        return response


def install_web(app: FastAPI) -> None:
    """Serve the widget's page at ``/``, its static files at ``/static``, and its icon also
    at ``/favicon.ico``, where browsers look for one on pages that name none."""
    folder = static_dir()
    index = folder / "index.html"
    icon = folder / "favicon.svg"

    @app.get("/", include_in_schema=False)
    async def widget_page() -> FileResponse:
        return FileResponse(index, media_type="text/html", headers=_NO_CACHE)

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> FileResponse:
        return FileResponse(icon, media_type="image/svg+xml", headers=_NO_CACHE)

    app.mount("/static", _RevalidatedStaticFiles(directory=folder), name="static")
