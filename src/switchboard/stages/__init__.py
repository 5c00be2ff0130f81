"""The stages every endpoint runs around its own work: the guardrails and the response
cache, with one interface (``stage``) for ``/v1/chat/completions`` and the assistant."""
