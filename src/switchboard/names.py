"""Names users choose for tenants, collections and providers: one rule for all of them."""

from __future__ import annotations

import re

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def check_name(kind: str, value: str) -> str:
    """``value`` if it is a valid tenant, collection or provider name, else ``ValueError``."""
    if not _NAME.fullmatch(value):
        raise ValueError(
            f"invalid {kind} name {value!r}: use 1-64 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )
    return value
