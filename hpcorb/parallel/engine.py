"""The work-item engine: fixed chunks, any number of ranks, checkpoint/restart.

Every k-space calculation (and every embarrassingly parallel sweep) hands
the engine a number of items (k-points, parameter points), a chunk size and
a kernel ``kernel(start, stop) -> {name: array}``.  The engine

* splits ``range(n_items)`` into chunks of ``chunk_size`` (boundaries do not
  depend on the number of ranks);
* deals the not-yet-done chunks dynamically: a work queue whose head is one
  shared counter (an MPI-3 window on rank 0, incremented by an atomic
  fetch-and-add; see :class:`ChunkQueue`).  A rank that finishes a chunk takes
  the next one, so a spread of per-chunk cost idles nobody until the last
  chunks (more ranks than chunks is fine);
* accumulates either the sum over chunks (``mode="sum"``, e.g. Brillouin
  zone integrals) or places each item's row into a full array
  (``mode="stack"``, e.g. sweeps: the kernel returns arrays with a leading
  axis of length ``stop - start``);
* meets at sync points to agree on checkpoints (interval or SIGTERM/SIGUSR1
  received on any rank), on failures (an exception in any rank's kernel ends
  all ranks with that rank's message) and on the end.  A sync is a
  non-blocking allreduce: a rank posts it every ~``sync_seconds`` and keeps
  computing until everyone has posted, so syncs idle nobody either;
* reduces at the end.

Rank-count and order independence.  Which rank computes which chunk (and in
which order) now depends on timing, so floating-point sums are accumulated
in double-double arithmetic (each value a pair hi + lo, every addition an
error-free two-sum, see :func:`_dd_add`) and reduced over ranks on a fixed
binomial tree with the same arithmetic.  The rounding error of the whole sum
is then ~1e-32 relative (for sums without cancellation below that level), so
the result rounded to double is the same, normally bit for bit, for any rank
count, dealing order or restart.

The checkpoint (see :mod:`hpcorb.parallel.checkpoint`) holds the ids of the
completed chunks and the reduced partial sums (hi + lo rounded to double), so
a restart on any number of ranks skips what is done.
"""
from __future__ import annotations

import math
import os
import time
import traceback
from dataclasses import dataclass

import numpy as np

from ..errors import CheckpointStop, SystemFault
from ..log import NullLogger, fmt_seconds
from . import signals


def default_chunk_size(n_items: int, cost_hint: float = 1.0) -> int:
    """Chunk size from the problem size only (never from the rank count).

    Aims at ~4096 chunks for large problems (good load balance on hundreds of
    ranks), at least 8 items per chunk (vectorized kernels), at most 256.
    ``cost_hint`` > 1 for expensive items makes chunks smaller.
    """
    target = math.ceil(n_items / 4096 / max(cost_hint, 1e-9))
    return int(min(256, max(8 if cost_hint <= 1 else 1, target)))


@dataclass
class Plan:
    n_items: int
    chunk_size: int

    @property
    def n_chunks(self) -> int:
        return -(-self.n_items // self.chunk_size)

    def bounds(self, chunk: int) -> tuple[int, int]:
        start = chunk * self.chunk_size
        return start, min(start + self.chunk_size, self.n_items)


class RankFailure(RuntimeError):
    """A kernel failed on some rank; message says which and why."""


# ---------------------------------------------------------------- work queue
class ChunkQueue:
    """Hands out the positions 0, 1, ..., n - 1 of a to-do list, each exactly once.

    Under MPI the head of the queue is one int64 in an MPI-3 window on rank 0;
    ``next()`` is an atomic fetch-and-add on it (passive target: rank 0 need
    not take part, it computes chunks like everyone else).  Where one-sided
    communication is not available (``HPCORB_STATIC_DEAL=1`` forces this, and so
    does fault injection, ``HPCORB_FAULT``, whose fault points count each rank's
    work items) the positions are dealt round-robin instead: rank r takes r, r + size, ...
    With one rank (``SerialComm``) it is a plain counter.
    """

    def __init__(self, comm, n: int):
        self.n = int(n)
        self.comm = comm
        self.win = None
        self._next_static = comm.rank
        self.dynamic = comm.size == 1
        # fault injection (HPCORB_FAULT, tests) counts work items per rank: deal deterministically
        static = os.environ.get("HPCORB_STATIC_DEAL", "") == "1" or bool(os.environ.get("HPCORB_FAULT"))
        if comm.size > 1 and not static:
            self.win = comm.counter()   # the shared counter; collective; None without RMA support
            # every rank must agree before anyone takes a chunk
            self.dynamic = not comm.lor(self.win is None)
            if not self.dynamic and self.win is not None:
                self.win.free()
                self.win = None
            comm.barrier()

    def next(self):
        """The next position, or None when the queue is empty (for good)."""
        if self.comm.size == 1:
            i = self._next_static
            self._next_static += 1
        elif self.win is not None:
            i = self.win.fetch_add(1)
        else:
            i = self._next_static
            self._next_static += self.comm.size
        return i if i < self.n else None

    def close(self):
        """Collective: free the window."""
        if self.win is not None:
            self.win.free()
            self.win = None


class PeerLost(RankFailure):
    """A rank waited at a sync point for a peer that is dead (or for a runtime
    that is gone): the sync can never complete, so the run ends (exit 1; the
    last checkpoint stays)."""


class _Sync:
    """A sequence of non-blocking sums of a small int64 vector over all ranks.

    ``post(v)`` starts one; ``test()`` returns the sum when every rank has
    posted (else None); ``wait()`` waits for it.  One is in flight at a time.

    A rank that dies (kill -9, out of memory) never posts: Open MPI ends the
    others after its grace period, but nothing in a polling wait notices a
    dead peer by itself.  So ``wait()`` looks, about once a second, at the
    processes it can see (:meth:`_lost`) and raises :class:`PeerLost`
    instead of waiting for ever.
    """

    CHECK_EVERY = 1.0          # s between liveness checks while waiting
    ORPHAN_GRACE = 60.0        # s a rank whose parent is gone waits before it gives up

    def __init__(self, comm, peers=None):
        self.comm = comm
        self.req = None
        self.out = None
        self.posted = False
        self.peers = peers or []       # [(rank, pid, start)] on this host, self excluded
        self.ppid = os.getppid()

    def post(self, vec):
        if self.posted:
            raise RuntimeError("a sync is already in flight")
        self.posted = True
        if self.comm.size == 1:
            self.out = np.array(vec, dtype=np.int64)
            return
        self._in = np.ascontiguousarray(vec, dtype=np.int64)
        self.req, self.out = self.comm.iallreduce_sum(self._in)

    def test(self):
        if not self.posted:
            return None
        if self.req is not None and not self.req.Test():
            return None
        self.posted = False
        self.req = None
        return self.out

    def wait(self):
        """Wait politely (a short sleep between tests, so an idle rank does not
        steal the core of a rank that still computes), checking now and then
        that the wait can end at all."""
        if not self.posted:
            # (a wait without a post would never end: a bug, never a hang)
            raise RuntimeError("wait() without a sync in flight")
        delay = 1e-4
        t0 = t_check = time.monotonic()
        while True:
            out = self.test()
            if out is not None:
                return out
            time.sleep(delay)
            delay = min(2 * delay, 0.02)
            now = time.monotonic()
            if now - t_check >= self.CHECK_EVERY:
                t_check = now
                why = self._lost(now - t0)
                if why:
                    raise PeerLost(why)

    def _lost(self, waited):
        """Why the sync in flight can never complete, or None."""
        for rank, pid, start in self.peers:
            if not signals.proc_alive(pid, start):
                return (f"rank {rank} (pid {pid}) died while rank {self.comm.rank} waited for it "
                        "at a sync point; the run cannot go on (the last checkpoint is kept)")
        if os.getppid() != self.ppid and waited >= self.ORPHAN_GRACE:
            return (f"rank {self.comm.rank}: its MPI launcher (pid {self.ppid}) is gone and the ranks "
                    f"have not met for {waited:.0f} s; giving up (the last checkpoint is kept)")
        return None


def _local_peers(comm):
    """Collective: the other ranks whose PIDs this rank can look at (same host,
    same PID namespace), as (rank, pid, start time): the processes
    :class:`_Sync` can watch."""
    if comm.size == 1:
        return []
    me = (signals.process_space(), os.getpid(), signals.proc_start(os.getpid()))
    return [(r, pid, start) for r, (host, pid, start) in enumerate(comm.allgather(me))
            if host == me[0] and r != comm.rank]


# ------------------------------------------------- double-double accumulation
def _is_float(dtype) -> bool:
    return np.issubdtype(np.dtype(dtype), np.inexact)


def _dd_add(hi, lo, x, x_lo=None, buf=None):
    """hi + lo += x (+ x_lo), in place: Knuth's two-sum.

    ``hi + x = s + err`` exactly; s becomes the new hi and err is added to lo
    (lo only collects rounding errors, ~1e-16 of hi, so its own rounding is
    ~1e-32 of the sum).  Works element-wise on real and complex arrays
    (complex addition is two independent real additions).  buf: optional
    three scratch arrays shaped like hi (no allocation per call).
    """
    if buf is None:
        buf = (np.empty_like(hi), np.empty_like(hi), np.empty_like(hi))
    s, bb, err = buf
    np.add(hi, x, out=s)
    np.subtract(s, hi, out=bb)
    np.subtract(s, bb, out=err)
    np.subtract(hi, err, out=err)              # hi - (s - bb)
    np.subtract(x, bb, out=bb)                 # x - bb
    err += bb
    lo += err
    if x_lo is not None:
        lo += x_lo
    hi[...] = s


class _Accumulator:
    """Per-rank partial sums: (hi, lo) pairs for float/complex arrays, plain
    sums for integer arrays, or rows placed into a full array (stack mode)."""

    def __init__(self, full, template, mode):
        self.mode = mode
        self.hi = {n: np.zeros(s, dtype=template[n][1]) for n, s in full.items()}
        self.lo = {n: np.zeros(s, dtype=template[n][1]) for n, s in full.items()
                   if mode == "sum" and _is_float(template[n][1])}
        self.buf = {}

    def add(self, name, value, start, stop):
        if self.mode == "stack":
            self.hi[name][start:stop] = value
        elif name in self.lo:
            hi, lo = self.hi[name], self.lo[name]
            x = np.asarray(value, dtype=hi.dtype)
            if x.size > 4096:
                # histograms of a few k-points are mostly empty: add only where x != 0
                nz = np.flatnonzero(x.reshape(-1) != 0)
                if len(nz) < x.size // 8:
                    h, l_ = hi.reshape(-1), lo.reshape(-1)
                    hs, ls = h[nz], l_[nz]
                    _dd_add(hs, ls, x.reshape(-1)[nz])
                    h[nz], l_[nz] = hs, ls
                    return
            if name not in self.buf:
                self.buf[name] = (np.empty_like(hi), np.empty_like(hi), np.empty_like(hi))
            _dd_add(hi, lo, x, buf=self.buf[name])
        else:
            self.hi[name] += value

    def zero(self):
        for d in (self.hi, self.lo):
            for a in d.values():
                a[...] = 0

    def reduce(self, comm, base=None):
        """Sum over ranks on a fixed binomial tree (rank 0 gets it; others None).

        ``base``: rank 0's (hi, lo) dicts of earlier reduced sums, added last.
        Returns (hi, lo) dicts on rank 0, ``(None, None)`` elsewhere.
        """
        hi = {n: a.copy() for n, a in self.hi.items()}
        lo = {n: a.copy() for n, a in self.lo.items()}
        if comm.size > 1:
            step = 1
            while step < comm.size:
                if comm.rank % (2 * step) == step:
                    for n in hi:
                        comm.send(hi[n], comm.rank - step, tag=7)
                        if n in lo:
                            comm.send(lo[n], comm.rank - step, tag=8)
                    break
                if comm.rank % (2 * step) == 0 and comm.rank + step < comm.size:
                    for n in hi:
                        buf = np.empty_like(hi[n])
                        comm.recv(buf, comm.rank + step, tag=7)
                        if n in lo:
                            buf_lo = np.empty_like(lo[n])
                            comm.recv(buf_lo, comm.rank + step, tag=8)
                            _dd_add(hi[n], lo[n], buf, buf_lo)
                        else:
                            hi[n] += buf
                step *= 2
        if comm.rank != 0:
            return None, None
        if base is not None:
            bhi, blo = base
            for n in hi:
                if n in lo:
                    _dd_add(hi[n], lo[n], bhi[n], blo[n])
                else:
                    hi[n] += bhi[n]
        return hi, lo


def _rounded(hi, lo):
    return {n: (a + lo[n] if n in lo else a.copy()) for n, a in hi.items()}


# ---------------------------------------------------------------- the engine
def run_chunks(plan: Plan, kernel, template: dict, comm, *, mode: str = "sum",
               checkpoint=None, stage: str = "main", checkpoint_interval: float = 300.0,
               progress_interval: float = 10.0, sync_seconds: float = 2.0,
               log=None, label: str = "items") -> dict:
    """Run ``kernel`` over all chunks of ``plan`` on ``comm``; return the results.

    template: ``{name: (shape, dtype)}`` -- per-chunk result shapes for
    ``mode="sum"``, per-item shapes for ``mode="stack"`` (the full result then
    has shape ``(n_items, *shape)``).
    checkpoint: a :class:`~hpcorb.parallel.checkpoint.Checkpoint` or None.
    Returns ``{name: array}``, identical on every rank.
    """
    log = log or NullLogger()
    if mode not in ("sum", "stack"):
        raise ValueError(mode)
    full = {}
    for name, (shape, dtype) in template.items():
        shape = tuple(shape)
        full[name] = (plan.n_items, *shape) if mode == "stack" else shape
    acc = _Accumulator(full, template, mode)

    # ---- restart -------------------------------------------------------
    done = np.zeros(plan.n_chunks, dtype=bool)
    base = None                      # rank 0: (hi, lo) of what earlier runs/checkpoints summed
    if checkpoint is not None:
        state = None
        if comm.rank == 0:
            state = checkpoint.load_stage(stage, plan, full, mode)
        state = comm.bcast(state)
        if state is not None:
            done = state["done"]
            if comm.rank == 0:
                base = ({n: np.array(a, dtype=template[n][1]) for n, a in state["sums"].items()},
                        {n: np.zeros(full[n], dtype=template[n][1]) for n in acc.lo})
            log(f"{stage}: resuming from checkpoint, {int(done.sum())}/{plan.n_chunks} chunks done")
    if comm.rank == 0 and base is None:
        base = ({n: np.zeros(s, dtype=template[n][1]) for n, s in full.items()},
                {n: np.zeros(full[n], dtype=template[n][1]) for n in acc.lo})

    todo = np.flatnonzero(~done)
    n_total = plan.n_chunks
    n_done_start = int(done.sum())
    queue = ChunkQueue(comm, len(todo))
    sync = _Sync(comm, _local_peers(comm))

    # intervals on the monotonic clock: a wall clock stepped back must not
    # delay a sync, a checkpoint or a progress line
    t_start = time.monotonic()
    t_ckpt = t_start
    t_progress = t_start
    t_posted = t_start
    error = None
    mine = []                 # chunk ids this rank completed since the last checkpoint
    n_mine = 0                # chunks this rank completed in this run
    out_of_work = False

    signals.install()
    sigs = signals.STATE
    # (no try/finally around the loop: freeing the window is collective, so it
    # is done only where every rank agrees to stop -- an unexpected exception
    # on one rank must reach the launcher's abort, not hang in a collective)
    while True:
        # A rank that caught a stop request (signal, launcher gone) takes no new
        # chunk: it goes straight to the next sync, where all ranks learn of it.
        # (Open MPI's mpiexec gives the ranks only a grace period between its
        # SIGTERM and its SIGKILL.)
        stopping = sigs.caught is not None
        # ---- compute one chunk (unless the queue is empty, we failed or we stop)
        if not out_of_work and error is None and not stopping:
            i = queue.next()
            if i is None:
                out_of_work = True
            else:
                chunk = int(todo[i])
                start, stop = plan.bounds(chunk)
                try:
                    out = kernel(start, stop)
                    for name in full:
                        acc.add(name, out[name], start, stop)
                    mine.append(chunk)
                    n_mine += 1
                except Exception as exc:  # reported to all ranks at the sync
                    error = _describe(exc, comm.rank, start, stop, label)
                signals.fault_point(comm.rank)
        idle = out_of_work or error is not None
        # Static dealing (no RMA, or fault injection) runs in lock-step: one
        # sync per chunk, posted and completed by every rank in the same
        # iteration.  It must not depend on a clock: a rank that skipped a
        # post would wait for ever, and so would everyone else.
        blocking = idle or stopping or not queue.dynamic

        # ---- post the next sync when it is due (always when blocking)
        now = time.monotonic()
        if not sync.posted and (blocking or now - t_posted >= sync_seconds):
            want_ckpt = (comm.rank == 0 and checkpoint is not None and checkpoint_interval > 0
                         and now - t_ckpt >= checkpoint_interval)
            sync.post([error is not None, sigs.caught is not None, want_ckpt, idle, n_mine])
            t_posted = now
        flags = sync.wait() if blocking else sync.test()
        if flags is None:
            continue

        # ---- every rank sees the same flags here, at the same sync
        all_idle = int(flags[3]) == comm.size
        if flags[0]:
            messages = [m for m in comm.allgather(error) if m]
            queue.close()
            raise RankFailure(messages[0])
        n_done = n_done_start + int(flags[4])
        if (flags[1] or (flags[2] and not all_idle)) and checkpoint is not None:
            done_ids = comm.allgather(mine)
            for ids in done_ids:
                done[ids] = True
            mine = []
            try:
                _save(checkpoint, stage, plan, done, acc, base, comm)
            except SystemFault:            # raised on every rank (_on_rank0): free the window first
                queue.close()
                raise
            t_ckpt = time.monotonic()
            log(f"{stage}: checkpoint written ({n_done}/{n_total} chunks) "
                f"in {t_ckpt - now:.2f} s -> {checkpoint.path}")
        if flags[1]:
            name = signals.pick(comm.allgather(sigs.caught))
            log(f"{stage}: received {signals.received(name)}; stopping after the checkpoint "
                "(run the same command again to resume)")
            queue.close()
            raise CheckpointStop(name)
        if all_idle:
            break
        if comm.rank == 0 and now - t_progress >= progress_interval:
            rate = (n_done - n_done_start) / max(now - t_start, 1e-9)
            eta = (n_total - n_done) / rate if rate > 0 else float("inf")
            log(f"{stage}: {label} chunks {n_done}/{n_total} "
                f"({100.0 * n_done / n_total:.0f}%), {rate:.2f} chunks/s, ETA {fmt_seconds(eta)}")
            t_progress = now
    queue.close()

    # ---- final reduction (fixed tree, double-double: independent of who did what)
    hi, lo = acc.reduce(comm, base)
    result = {}
    red = _rounded(hi, lo) if comm.rank == 0 else None
    for name in full:
        result[name] = comm.bcast(red[name] if comm.rank == 0 else None)
    if checkpoint is not None:
        _on_rank0(comm, checkpoint.save_stage, stage, plan, mode, np.ones(plan.n_chunks, dtype=bool), result)
    elapsed = time.monotonic() - t_start
    if len(todo):
        log(f"{stage}: {plan.n_chunks} chunks of {plan.chunk_size} {label} done in "
            f"{fmt_seconds(elapsed)} on {comm.size} rank{'s' if comm.size > 1 else ''}"
            f"{'' if queue.dynamic else ' (static dealing)'}")
    return result


def _save(checkpoint, stage, plan, done, acc, base, comm):
    """Collective: fold every rank's partial sums into rank 0's base and write."""
    hi, lo = acc.reduce(comm, base)
    acc.zero()
    sums = None
    if comm.rank == 0:
        for n in hi:
            base[0][n][...] = hi[n]
        for n in lo:
            base[1][n][...] = lo[n]
        sums = _rounded(hi, lo)
    _on_rank0(comm, checkpoint.save_stage, stage, plan, acc.mode, done, sums)


def _on_rank0(comm, fn, *args):
    """Run ``fn`` on rank 0; a SystemFault there (disk full) is raised on every rank."""
    msg = None
    if comm.rank == 0:
        try:
            fn(*args)
        except SystemFault as exc:
            msg = str(exc)
    msg = comm.bcast(msg)
    if msg:
        raise SystemFault(msg)


def _describe(exc, rank, start, stop, label):
    tb = traceback.extract_tb(exc.__traceback__)
    where = f"{tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno}" if tb else "?"
    return (f"rank {rank} failed on {label} {start}..{stop - 1}: "
            f"{type(exc).__name__}: {exc} (at {where})")
