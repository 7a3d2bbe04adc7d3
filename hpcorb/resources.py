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
                    extra_bytes: float = 0.0, extra_key: str | None = None) -> Estimate:
    """Memory per rank of a k-mesh calculation: engine bookkeeping (``kmesh.size``),
    one chunk of ``per_k_matrices`` N x N complex matrices per k (``model.*``)
    and ``extra_bytes`` set by ``extra_key`` (energy grids, histograms)."""
    size = deck["kmesh"]["size"] or [1]
    n_k = float(np.prod(np.asarray(size, dtype=float)))
    n, model_key = model_states(deck)
    chunk = deck["kmesh"]["chunk_size"] or default_chunk_size(int(min(n_k, 2 ** 62)),
                                                              cost_hint=max(1.0, (n / 40.0) ** 3))
    parts = {"kmesh.size": kmesh_engine_bytes(n_k, chunk, template_bytes),
             model_key: chunk * per_k_matrices * 16.0 * n * n}
    if extra_key:
        parts[extra_key] = parts.get(extra_key, 0.0) + extra_bytes
    key = max(parts, key=parts.get)
    total = sum(parts.values()) + 100e6          # + the interpreter and libraries
    return Estimate(total, n_k, key, f"{n_k:.3g} k-points, {n} states")
