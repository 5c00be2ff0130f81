"""OpenAI-compatible HTTP API over the local engine."""

from switchboard.api.app import create_app

__all__ = ["create_app"]
