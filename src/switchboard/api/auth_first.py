"""A pure ASGI middleware authenticating every ``/v1/`` request from its headers before
its body is read.

FastAPI reads and parses a body before a route's dependencies run, so a 400 MB JSON body
sent without a key would be parsed before the 401. This authenticates first (the key
store's cache, or one SQLite point read) and refuses with the usual 401 JSON at once,
closing the connection if a body is on its way; otherwise it leaves the principal in
the request's state, where ``require(scope)`` finds it and checks the scope. Paths
outside ``/v1/`` (``/health``, ``/metrics``, the widget, ``/docs``, ``/openapi.json``)
stay public.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from switchboard.api.auth import authenticate
from switchboard.api.body_limit import has_body, refuse
from switchboard.api.errors import auth_error_headers, request_error_payload
from switchboard.errors import RequestError

PROTECTED = "/v1/"


class AuthenticateFirst:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PROTECTED):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        try:
            principal = authenticate(request.app.state.auth, request)
        except RequestError as exc:
            payload = request_error_payload(exc).model_dump()
            headers = auth_error_headers(exc)
            await refuse(send, exc.status_code, payload, close=has_body(scope), headers=headers)
            return
        state = scope.setdefault("state", {})
        state["principal"] = principal
        state["tenant"] = principal.tenant
        await self.app(scope, receive, send)
