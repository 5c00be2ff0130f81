"""An incremental Server-Sent Events decoder over raw bytes.

Fed the body as it arrives, in pieces cut anywhere, it returns each complete event's
``data`` payload as bytes, exactly as sent (several ``data:`` lines joined by ``\\n``).
Other fields (``event:``, ``id:``, ``retry:``) and comments are skipped: OpenAI-compatible
servers send chunks as plain ``data:`` events. Pure logic, no I/O.
"""

from __future__ import annotations

_DATA = b"data:"


class SSEDecoder:
    """Splits a byte stream into the ``data`` payloads of its events."""

    def __init__(self) -> None:
        self._pending = b""  # an incomplete last line
        self._data: list[bytes] = []  # data lines of the event being read

    def feed(self, piece: bytes) -> list[bytes]:
        """The payloads of the events that ``piece`` completes, in order."""
        if self._pending:
            piece = self._pending + piece
        lines = piece.split(b"\n")
        self._pending = lines.pop()  # after the last newline: not a whole line yet
        events: list[bytes] = []
        for line in lines:
            self._line(line[:-1] if line.endswith(b"\r") else line, events)
        return events

    def close(self) -> list[bytes]:
        """The end of the body: an event not yet ended by a blank line still counts."""
        events: list[bytes] = []
        if self._pending:
            self._line(self._pending.rstrip(b"\r"), events)
            self._pending = b""
        self._line(b"", events)
        return events

    def _line(self, line: bytes, events: list[bytes]) -> None:
        if not line:
            if self._data:
                events.append(b"\n".join(self._data))
                self._data = []
        elif line.startswith(_DATA):
            value = line[len(_DATA) :]
            self._data.append(value[1:] if value.startswith(b" ") else value)
