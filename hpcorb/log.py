"""Rank-0 logging to stderr and to the run's log file.

Other ranks are quiet; ``Logger.error`` prints from any rank (prefixed with
the rank) because a failure must be seen wherever it happens.

A log file that cannot be written (disk full) never costs the run where it
stands: the first failure is printed once to stderr, file logging stops,
and ``write_error`` holds the reason; the launcher ends the run with exit
code 1 at its next safe point (the checkpoint keeps the work).
Python warnings (numpy RuntimeWarnings, h5py) go through :meth:`Logger.warning`
as one line each (see :func:`capture_warnings`), never raw.
"""
from __future__ import annotations

import sys
import time
import warnings


def fmt_seconds(s: float) -> str:
    if s != s or s == float("inf"):
        return "?"
    s = int(round(s))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


class Logger:
    def __init__(self, comm=None, path: str | None = None, stream=None, quiet=False):
        self.rank = 0 if comm is None else comm.rank
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        self.t0 = time.time()
        self.file = None
        self.path = path
        self.write_error = None
        if path and self.rank == 0:
            self.file = open(path, "a", encoding="utf-8")

    def _write(self, text):
        if not self.file:
            return
        try:
            self.file.write(text)
            self.file.flush()
        except OSError as exc:
            self.write_error = exc.strerror or str(exc)
            try:
                self.file.close()
            except OSError:
                pass
            self.file = None
            print(f"hpcorb: error: cannot write log {self.path}: {self.write_error}",
                  file=sys.stderr, flush=True)

    def __call__(self, *msg):
        self.info(*msg)

    def info(self, *msg):
        if self.rank != 0:
            return
        line = " ".join(str(m) for m in msg)
        stamp = f"[hpcorb {fmt_seconds(time.time() - self.t0):>6}] "
        if not self.quiet:
            print(stamp + line, file=self.stream, flush=True)
        self._write(time.strftime("%Y-%m-%d %H:%M:%S ") + line + "\n")

    def error(self, msg):
        prefix = f"hpcorb: error (rank {self.rank}): " if self.rank else "hpcorb: error: "
        print(prefix + msg, file=sys.stderr, flush=True)
        self._write("ERROR " + msg + "\n")

    def warning(self, msg):
        """One line from any rank (rank 0 also into the log file)."""
        if self.rank == 0:
            self.info("warning: " + msg)
        else:
            print(f"hpcorb: warning (rank {self.rank}): {msg}", file=sys.stderr, flush=True)

    def close(self):
        if self.file:
            try:
                self.file.close()
            except OSError as exc:
                self.write_error = self.write_error or exc.strerror or str(exc)
            self.file = None


class NullLogger(Logger):
    def __init__(self):
        super().__init__(None, None, quiet=True)


def one_line_warning(message, category, filename, lineno) -> str:
    where = f"{filename.rsplit('/', 1)[-1]}:{lineno}"
    text = " ".join(str(message).split())
    return f"{category.__name__}: {text[:300]} (at {where})"


def capture_warnings(sink):
    """Route Python warnings (numpy, h5py, ...) to ``sink(one_line)``; the
    usual filters decide which are shown (RuntimeWarning: once per location)."""

    def show(message, category, filename, lineno, file=None, line=None):
        sink(one_line_warning(message, category, filename, lineno))
    warnings.showwarning = show
