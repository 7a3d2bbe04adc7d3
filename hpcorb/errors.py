"""Exceptions that end a run with a one-line message.

``InputError`` (exit code 2): bad deck, bad file, bad option -- the user's to fix.
``CheckpointStop`` (exit code 75, EX_TEMPFAIL): a checkpoint was written after
SIGTERM/SIGUSR1/SIGINT; run the same command again to resume.
``SystemFault`` (exit code 1): the system refused (disk full, unwritable
file); one line naming the file, no temporary file left behind.
"""

EXIT_INPUT = 2
EXIT_CHECKPOINTED = 75
EXIT_FAILED = 1


class InputError(Exception):
    """Something the user gave is wrong; the message is one line."""


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


class SystemFault(Exception):
    """Writing a file failed (disk full, read-only, quota); one line, exit code 1."""


def os_reason(exc: BaseException) -> str:
    """``No space left on device`` etc. from an OSError (or h5py's wrapped one)."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]
