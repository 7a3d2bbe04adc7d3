"""Up-front resource estimates of a deck (memory per rank, work items), without
building the model: the numbers ``./run`` checks before any rank starts
(:func:`hpcorb.config.check_resources`).  Each deck adapter's ``estimate(deck,
n_ranks)`` builds on :func:`kspace_estimate` or returns an :class:`Estimate`."""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .parallel.engine import default_chunk_size

GB = 1024.0 ** 3

# ---- time: benchmark constants ------------------------------------------------------
# Measured by ./run bench slab_kubo / bench diffusion on one core of the development
# machine (Xeon with AVX-512, OpenBLAS SkylakeX kernels, zgemm ~80 GFLOP/s): the dense
# eigendecomposition of an N x N complex Hermitian matrix takes ~EIGH_S_N3 N^3 s
# (594 states: 0.21 s), plus PER_ITEM_S of Python and numpy overhead per k-point.
# Every estimate is a cost per work item in units of this eigendecomposition.
EIGH_S_N3 = 1.0e-9
PER_ITEM_S = 5e-5
# The largest reduction the symmetry of a k-mesh gives (measured: W(110) film 400^2
# 3.98x with 8 operations; cubic 50^3 40x with 48 + time reversal).  Used as the
# optimistic bound: a run is refused only when even that cannot make it affordable.
SYMMETRY_GAIN = {1: 2.0, 2: 4.0, 3: 40.0}
TIME_CLASSES = ((60.0, "seconds"), (3600.0, "minutes"), (86400.0, "hours"), (7 * 86400.0, "days"),
                (60 * 86400.0, "weeks"), (365 * 86400.0, "months"))


def eigh_seconds(n: float) -> float:
    """CPU seconds of one N x N complex Hermitian eigendecomposition (+ per-item overhead)."""
    return PER_ITEM_S + EIGH_S_N3 * float(n) ** 3


def time_class(seconds: float) -> str:
    """'seconds', 'minutes', 'hours', 'days', 'weeks', 'months' or 'years'."""
    for limit, name in TIME_CLASSES:
        if seconds < limit:
            return name
    return "years"


def fmt_seconds(seconds: float) -> str:
    for unit, f in (("years", 365 * 86400.0), ("days", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if seconds >= f:
            return f"{seconds / f:.3g} {unit}"
    return f"{seconds:.2g} s"


def machine_memory() -> float:
    """Physical memory of this machine in bytes (0 if unknown)."""
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 0.0


@dataclass
class Estimate:
    """Up-front cost of a run: ``bytes_per_rank`` peak memory of one rank,
    ``items`` work items (k-points, points, windows), ``key`` the deck key that
    drives the size (named in a refusal)."""
    bytes_per_rank: float
    items: float
    key: str
    what: str = ""
    core_seconds: float = 0.0      # expected CPU time of the whole run (all ranks), optimistic
    time_key: str = ""             # the deck key that drives the time (named in a refusal)

    def wall_seconds(self, n_ranks: int) -> float:
        """Expected wall time on ``n_ranks`` ranks (perfect balance)."""
        return self.core_seconds / max(1, n_ranks)

    def time_text(self, n_ranks: int) -> str:
        w = self.wall_seconds(n_ranks)
        return (f"~{self.core_seconds / 3600:.3g} core-hours, {time_class(w)} on {n_ranks} "
                f"rank{'s' if n_ranks > 1 else ''} (~{fmt_seconds(w)})")


def _fmt_bytes(n: float) -> str:
    for unit, f in (("TB", 1024.0 ** 4), ("GB", GB), ("MB", 1024.0 ** 2)):
        if n >= f:
            return f"{n / f:.3g} {unit}"
    return f"{n / 1024:.3g} kB"


def kmesh_engine_bytes(n_k: float, chunk: int | None, template_bytes: float) -> float:
    """Memory of the engine's bookkeeping: chunk flags + 3 copies of the sums."""
    c = chunk or default_chunk_size(int(min(n_k, 2 ** 62)))
    return n_k / c + 3 * template_bytes


def model_states(deck: Deck) -> tuple[int, str]:
    """Rough basis size of ``[model]`` without building it (estimates must not
    allocate), and the key that sets it."""
    m = deck["model"]
    spin = 2 if m.get("spin") else 1
    if m.get("material"):
        layers = m.get("layers")
        return 9 * spin * (layers or 2), ("model.layers" if layers else "model.material")
    seed = m.get("wannier90")
    candidates = [(m.get(k), k, f"model.{k}") for k in ("hr_file", "tb_file")]
    if seed:
        candidates += [(seed + "_hr.dat", "hr_file", "model.wannier90"), (seed + "_tb.dat", "tb_file", "model.wannier90")]
    for path, kind, key in candidates:
        if path and os.path.isfile(path):
            try:
                with open(path, encoding="utf-8", errors="replace") as f:
                    lines = [f.readline() for _ in range(5)]
                num = int((lines[1] if kind == "hr_file" else lines[4]).split()[0])
                return max(1, num), key
            except (ValueError, IndexError, OSError):
                return 64, key
    return 8 * spin, "model.builtin"


def kspace_estimate(deck: Deck, n_ranks: int, *, template_bytes: float, per_k_matrices: float = 6,
                    extra_bytes: float = 0.0, extra_key: str | None = None, per_k_eigh: float = 1.0,
                    extra_items: float = 0.0, per_k_overhead: float = PER_ITEM_S) -> Estimate:
    """Memory per rank of a k-mesh calculation: engine bookkeeping (``kmesh.size``),
    one chunk of ``per_k_matrices`` N x N complex matrices per k (``model.*``)
    and ``extra_bytes`` set by ``extra_key`` (energy grids, histograms).  Time:
    ``per_k_eigh`` eigendecompositions per (irreducible) k-point, the mesh
    reduced by at most :data:`SYMMETRY_GAIN` when ``[kmesh] symmetry`` is on,
    plus ``extra_items`` unreduced items of the same cost (band-structure paths),
    each with ``per_k_overhead`` seconds of Python/numpy work that does not scale
    with N (what dominates small models)."""
    size = deck["kmesh"]["size"] or [1]
    n_k = float(np.prod(np.asarray(size, dtype=float)))
    n, model_key = model_states(deck)
    gain = SYMMETRY_GAIN.get(len(size), 1.0) if deck["kmesh"].get("symmetry", False) else 1.0
    seconds = (n_k / gain + extra_items) * (per_k_eigh * EIGH_S_N3 * float(n) ** 3 + per_k_overhead)
    chunk = deck["kmesh"]["chunk_size"] or default_chunk_size(int(min(n_k, 2 ** 62)),
                                                              cost_hint=max(1.0, (n / 40.0) ** 3))
    parts = {"kmesh.size": kmesh_engine_bytes(n_k, chunk, template_bytes),
             model_key: chunk * per_k_matrices * 16.0 * n * n}
    if extra_key:
        parts[extra_key] = parts.get(extra_key, 0.0) + extra_bytes
    key = max(parts, key=parts.get)
    total = sum(parts.values()) + 100e6          # + the interpreter and libraries
    return Estimate(total, n_k, key, f"{n_k:.3g} k-points, {n} states", seconds, "kmesh.size")
