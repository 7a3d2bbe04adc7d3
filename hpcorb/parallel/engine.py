"""The work-item engine: fixed chunks, any number of ranks, checkpoint/restart.

Every k-space calculation (and every embarrassingly parallel sweep) hands
the engine a number of items (k-points, parameter points), a chunk size and
a kernel ``kernel(start, stop) -> {name: array}``.  The engine

* splits ``range(n_items)`` into chunks of ``chunk_size`` (boundaries do not
  depend on the number of ranks);
* deals the not-yet-done chunks round-robin to the ranks: in round ``i``
  rank ``r`` computes chunk ``todo[i * size + r]`` (ranks beyond the end
  idle, so more ranks than chunks is fine);
* accumulates either the sum over chunks (``mode="sum"``, e.g. Brillouin
  zone integrals) or places each item's row into a full array
  (``mode="stack"``, e.g. sweeps: the kernel returns arrays with a leading
  axis of length ``stop - start``);
* meets at sync points (a small allreduce every ~``sync_seconds``) to agree on
  checkpoints (interval or SIGTERM/SIGUSR1 received on any rank) and on
  failures (an exception in any rank's kernel ends all ranks with that
  rank's message);
* reduces at the end.  The result on every rank is the same to round-off
  (~1e-16 relative) whatever the number of ranks or restarts.

The checkpoint (see :mod:`hpcorb.parallel.checkpoint`) holds the ids of the
completed chunks and the reduced partial sums, so a restart on any number of
ranks skips what is done.
"""
from __future__ import annotations

import math
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
    partial = {n: np.zeros(s, dtype=template[n][1]) for n, s in full.items()}

    # ---- restart -------------------------------------------------------
    done = np.zeros(plan.n_chunks, dtype=bool)
    base = None
    if checkpoint is not None:
        state = None
        if comm.rank == 0:
            state = checkpoint.load_stage(stage, plan, full, mode)
        state = comm.bcast(state)
        if state is not None:
            done = state["done"]
            if comm.rank == 0:
                base = state["sums"]
            log(f"{stage}: resuming from checkpoint, {int(done.sum())}/{plan.n_chunks} chunks done")
    if comm.rank == 0 and base is None:
        base = {n: np.zeros(s, dtype=template[n][1]) for n, s in full.items()}

    todo = np.flatnonzero(~done)
    n_rounds = -(-len(todo) // comm.size) if len(todo) else 0
    n_total = plan.n_chunks
    n_done_start = int(done.sum())

    t_start = time.time()
    t_ckpt = t_start
    t_progress = t_start
    rounds_between_syncs = 1
    error = None
    r = 0

    signals.install()
    sigs = signals.STATE
    while r < n_rounds:
        # ---- compute a batch of rounds without talking to other ranks
        t_batch = time.time()
        r_begin, r_end = r, min(n_rounds, r + rounds_between_syncs)
        for rr in range(r, r_end):
            if error is not None:
                break
            i = rr * comm.size + comm.rank
            if i >= len(todo):
                continue
            start, stop = plan.bounds(int(todo[i]))
            try:
                out = kernel(start, stop)
                for name in full:
                    if mode == "sum":
                        partial[name] += out[name]
                    else:
                        partial[name][start:stop] = out[name]
            except Exception as exc:  # reported to all ranks at the sync
                error = _describe(exc, comm.rank, start, stop, label)
            signals.fault_point(comm.rank)
        batch_time = time.time() - t_batch
        r = r_end

        # ---- sync point: failures, signals, checkpoint, pacing
        now = time.time()
        flags = np.array([
            error is not None,
            sigs.caught is not None,
            comm.rank == 0 and checkpoint is not None and checkpoint_interval > 0
            and now - t_ckpt >= checkpoint_interval and r < n_rounds,
            0,
        ], dtype=np.int64)
        if comm.rank == 0:
            per_round = batch_time / max(1, r_end - r_begin)
            flags[3] = max(1, int(sync_seconds / max(per_round, 1e-6)))
        flags = _max_array(comm, flags)
        rounds_between_syncs = int(flags[3])
        if flags[0]:
            messages = [m for m in comm.allgather(error) if m]
            raise RankFailure(messages[0])
        n_done = n_done_start + min(len(todo), r * comm.size)
        if (flags[1] or flags[2]) and checkpoint is not None:
            done_now = done.copy()
            done_now[todo[: min(len(todo), r * comm.size)]] = True
            _save(checkpoint, stage, plan, mode, done_now, partial, base, comm)
            t_ckpt = time.time()
            log(f"{stage}: checkpoint written ({n_done}/{n_total} chunks) "
                f"in {t_ckpt - now:.2f} s -> {checkpoint.path}")
        if flags[1]:
            names = [s for s in comm.allgather(sigs.caught) if s]
            log(f"{stage}: received {signals.received(names[0])}; stopping after the checkpoint "
                "(run the same command again to resume)")
            raise CheckpointStop(names[0])
        if now - t_progress >= progress_interval and r < n_rounds:
            rate = (n_done - n_done_start) / max(now - t_start, 1e-9)
            eta = (n_total - n_done) / rate if rate > 0 else float("inf")
            log(f"{stage}: {label} chunks {n_done}/{n_total} "
                f"({100.0 * n_done / n_total:.0f}%), {rate:.2f} chunks/s, ETA {fmt_seconds(eta)}")
            t_progress = now

    # ---- final reduction
    result = {}
    for name in full:
        red = comm.sum(partial[name], root=0)
        if comm.rank == 0:
            red = red + base[name]
        result[name] = comm.bcast(red)
    if checkpoint is not None:
        _on_rank0(comm, checkpoint.save_stage, stage, plan, mode, np.ones(plan.n_chunks, dtype=bool), result)
    elapsed = time.time() - t_start
    if len(todo):
        log(f"{stage}: {plan.n_chunks} chunks of {plan.chunk_size} {label} done in "
            f"{fmt_seconds(elapsed)} on {comm.size} rank{'s' if comm.size > 1 else ''}")
    return result


def _save(checkpoint, stage, plan, mode, done, partial, base, comm):
    sums = {}
    for name in partial:
        red = comm.sum(partial[name], root=0)
        if comm.rank == 0:
            base[name] += red
            sums[name] = base[name]
        partial[name][...] = 0
    _on_rank0(comm, checkpoint.save_stage, stage, plan, mode, done, sums)


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


def _max_array(comm, arr):
    return arr if comm.size == 1 else comm.max_array(arr)


def _describe(exc, rank, start, stop, label):
    tb = traceback.extract_tb(exc.__traceback__)
    where = f"{tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno}" if tb else "?"
    return (f"rank {rank} failed on {label} {start}..{stop - 1}: "
            f"{type(exc).__name__}: {exc} (at {where})")
