"""Uniform k-meshes, generated chunk by chunk (memory stays flat).

Item ``i`` of a mesh of ``size = (n1, n2[, n3])`` is the C-order multi-index
``(i1, i2, i3)``; its fractional coordinates (in units of the reciprocal
lattice vectors) are ``(i_a + shift_a) / n_a``.  ``shift = 0`` is
Gamma-centred, ``shift = 0.5`` the shifted (Monkhorst-Pack for even n) mesh.
All points have the weight ``1 / n1 n2 n3``.
"""
from __future__ import annotations

import numpy as np


class KMesh:
    def __init__(self, size, shift=None):
        self.size = tuple(int(n) for n in size)
        self.dim = len(self.size)
        self.shift = np.zeros(self.dim) if shift is None else np.asarray(shift, dtype=float)
        if self.shift.shape != (self.dim,):
            raise ValueError("shift must have one entry per mesh direction")
        self.n = int(np.prod(self.size))

    @property
    def weight(self) -> float:
        return 1.0 / self.n

    def frac(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Fractional k of items start..stop-1, shape (stop - start, dim)."""
        stop = self.n if stop is None else stop
        idx = np.unravel_index(np.arange(start, stop), self.size)
        return (np.stack(idx, axis=1) + self.shift) / np.asarray(self.size)

    def __repr__(self):
        return f"KMesh({'x'.join(map(str, self.size))}, shift={self.shift.tolist()})"
