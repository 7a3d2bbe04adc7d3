"""Rank-0 logging to stderr and to the run's log file.

Other ranks are quiet; ``Logger.error`` prints from any rank (prefixed with
the rank) because a failure must be seen wherever it happens.
"""
from __future__ import annotations

import sys
import time


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
        if path and self.rank == 0:
            self.file = open(path, "a", encoding="utf-8")

    def __call__(self, *msg):
        self.info(*msg)

    def info(self, *msg):
        if self.rank != 0:
            return
        line = " ".join(str(m) for m in msg)
        stamp = f"[hpcorb {fmt_seconds(time.time() - self.t0):>6}] "
        if not self.quiet:
            print(stamp + line, file=self.stream, flush=True)
        if self.file:
            self.file.write(time.strftime("%Y-%m-%d %H:%M:%S ") + line + "\n")
            self.file.flush()

    def error(self, msg):
        prefix = f"hpcorb: error (rank {self.rank}): " if self.rank else "hpcorb: error: "
        print(prefix + msg, file=sys.stderr, flush=True)
        if self.file:
            self.file.write("ERROR " + msg + "\n")
            self.file.flush()

    def close(self):
        if self.file:
            self.file.close()
            self.file = None


class NullLogger(Logger):
    def __init__(self):
        super().__init__(None, None, quiet=True)
