"""Exceptions that end a run with a one-line message.

``InputError`` (exit code 2): bad deck, bad file, bad option -- the user's to fix.
``CheckpointStop`` (exit code 75, EX_TEMPFAIL): a checkpoint was written after
SIGTERM/SIGUSR1; run the same command again to resume.
"""

EXIT_INPUT = 2
EXIT_CHECKPOINTED = 75
EXIT_FAILED = 1


class InputError(ValueError):
    """Something the user gave is wrong; the message is one line.

    A ValueError, so that Python callers of the API can catch bad values the
    usual way; the deck path turns it into exit code 2."""


class DeckError(InputError):
    """A deck value is wrong: names the key, the value and what is allowed."""

    def __init__(self, key, value, allowed):
        self.key, self.value, self.allowed = key, value, allowed
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        super().__init__(f"{key} = {shown}: {allowed}")


class CheckpointStop(Exception):
    """Raised on every rank after the checkpoint was written on a signal."""
