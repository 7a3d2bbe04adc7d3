"""Density of states from eigenvalues: fine histogram, broadening, Fermi level.

The engine accumulates, over the k-mesh, a fine histogram of eigenvalues
(``counts`` per bin, weighted by 1/N_k, and the weighted sum of the
eigenvalues per bin, so every bin also knows its mean energy).  From it:

* the integrated number of states N(E) is exact at every bin edge (T = 0
  step function), and linear interpolation inside a bin is used for the
  Fermi level (error < one bin width; bins are ~1e-4 eV for typical bands);
* the broadened DOS is the sum over bins of count * g(E - mean), exact for
  any broadening up to O((bin / width)^2).
Units: eV, states per eV per cell (times the spin degeneracy).
"""
from __future__ import annotations

import numpy as np


def gershgorin_bounds(H_R) -> tuple[float, float]:
    """Bounds on every eigenvalue of H(k) for all k, from sum_R |H(R)| (eV)."""
    A = np.abs(H_R).sum(axis=0)                      # (N, N): >= |H(k)| elementwise
    centre = np.zeros(A.shape[0])
    radius = A.sum(axis=1)
    return float((centre - radius).min()), float((centre + radius).max())


def histogram(eigs: np.ndarray, weight: float, emin: float, nbins: int, de: float):
    """Weighted counts and energy sums of ``eigs`` (any shape) in bins [emin + i de)."""
    e = np.ravel(eigs)
    idx = np.clip(((e - emin) / de).astype(np.int64), 0, nbins - 1)
    counts = np.bincount(idx, minlength=nbins) * weight
    esum = np.bincount(idx, weights=e, minlength=nbins) * weight
    return counts, esum


def broadened_dos(counts, esum, energies, width, kind="gaussian", chunk=4096):
    """DOS(E) = sum_bins counts * g(E - <e>_bin); g normalized to 1 (1/eV)."""
    occupied = counts > 0
    c = counts[occupied]
    mean = esum[occupied] / c
    out = np.zeros(len(energies))
    for lo in range(0, len(c), chunk):
        x = energies[:, None] - mean[None, lo:lo + chunk]
        if kind == "gaussian":
            g = np.exp(-0.5 * (x / width) ** 2) / (width * np.sqrt(2 * np.pi))
        else:
            g = (width / np.pi) / (x ** 2 + width ** 2)
        out += g @ c[lo:lo + chunk]
    return out


def fermi_level(counts, emin, de, n_target, tol=1e-9):
    """Energy where the integrated count reaches ``n_target`` (states per cell).

    In a gap (a range of edges with exactly n_target) the middle of the gap.
    """
    cum = np.concatenate([[0.0], np.cumsum(counts)])    # N at the bin edges
    edges = emin + de * np.arange(len(cum))
    total = cum[-1]
    if n_target > total * (1 + 1e-12) or n_target < 0:
        raise ValueError(f"{n_target} states requested but the model has {total:g}")
    lo = np.searchsorted(cum, n_target - tol * max(1.0, total), side="left")
    hi = np.searchsorted(cum, n_target + tol * max(1.0, total), side="right") - 1
    if hi > lo:                                         # plateau: a gap
        return 0.5 * (edges[lo] + edges[hi])
    i = max(1, min(lo, len(cum) - 1))
    c0, c1 = cum[i - 1], cum[i]
    frac = 0.0 if c1 == c0 else (n_target - c0) / (c1 - c0)
    return float(edges[i - 1] + frac * de)
