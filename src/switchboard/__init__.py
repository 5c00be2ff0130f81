"""Switchboard: a self-hostable system for grounded LLM assistants."""

__version__ = "0.1.0"
