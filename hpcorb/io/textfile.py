"""Reading line-oriented parameter files with errors that name file and line."""
from __future__ import annotations

from ..errors import InputError


def read_lines(path: str, what: str):
    """Lines of a text file and a ``fail(lineno, message)`` that raises
    ``InputError("PATH:LINE: malformed WHAT: message")``."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise InputError(f"{path}: cannot read {what} ({e.strerror})") from None

    def fail(lineno, message):
        raise InputError(f"{path}:{lineno}: malformed {what}: {message}")

    return lines, fail
