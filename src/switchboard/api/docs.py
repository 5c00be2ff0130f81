"""``GET /docs``: Swagger UI over ``/openapi.json``, served from the pinned
``swagger-ui-bundle-v2`` package (its scripts, styles and icon under ``/docs/assets``):
the page loads nothing from the internet. No ReDoc page is served."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

ASSETS = "/docs/assets"
#: ``validatorUrl: null``: the UI never sends the document to an online validator.
_PARAMETERS = {"validatorUrl": None, "persistAuthorization": True}


def install_docs(app: FastAPI, openapi_url: str = "/openapi.json") -> None:
    """Serve Swagger UI at ``/docs`` and its files at ``/docs/assets``."""

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - API",
            swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS}/favicon-32x32.png",
            swagger_ui_parameters=_PARAMETERS,
        )

    app.mount(ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")
