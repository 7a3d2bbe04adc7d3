"""Wannier90 tight-binding files: ``seedname_hr.dat`` (read and write).

``_hr.dat`` layout (Wannier90 user guide): a comment line; ``num_wann``;
``nrpts``; the degeneracies of the R points, 15 per line; then
``nrpts * num_wann**2`` lines ``R1 R2 R3 m n Re(H) Im(H)`` with m, n
1-based, in eV.  ``H_mn(R) = <m, 0|H|n, R>`` is the printed value divided by
the degeneracy of R (the Wigner-Seitz weight).

Every malformed file raises :class:`hpcorb.errors.InputError` with the file
name, the line number and what was expected.
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError


def read_hr(path: str):
    """Return (R [nR, 3] int, H [nR, N, N] complex eV with degeneracies divided out)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror})") from None

    def fail(lineno, what):
        raise InputError(f"{path}:{lineno}: malformed Wannier90 _hr.dat: {what}")

    if len(lines) < 4:
        fail(len(lines), "file too short (expected comment, num_wann, nrpts, degeneracies, data)")
    try:
        num_wann = int(lines[1].split()[0])
    except (ValueError, IndexError):
        fail(2, f"expected num_wann (an integer), found {lines[1]!r}")
    try:
        nrpts = int(lines[2].split()[0])
    except (ValueError, IndexError):
        fail(3, f"expected nrpts (an integer), found {lines[2]!r}")
    if num_wann < 1 or nrpts < 1:
        fail(2, f"num_wann = {num_wann} and nrpts = {nrpts} must be >= 1")
    deg = []
    i = 3
    while len(deg) < nrpts:
        if i >= len(lines):
            fail(i + 1, f"expected {nrpts} degeneracies, found {len(deg)}")
        try:
            deg += [int(x) for x in lines[i].split()]
        except ValueError:
            fail(i + 1, f"expected integer degeneracies, found {lines[i]!r}")
        i += 1
    if len(deg) != nrpts or min(deg) < 1:
        fail(i, f"expected {nrpts} positive degeneracies, found {len(deg)}")
    body = [ln for ln in lines[i:] if ln.strip()]
    need = nrpts * num_wann * num_wann
    if len(body) != need:
        fail(i + 1, f"expected {need} matrix-element lines (nrpts * num_wann^2), found {len(body)}")
    try:
        data = np.array([ln.split()[:7] for ln in body], dtype=float)
    except ValueError:
        for j, ln in enumerate(body):
            parts = ln.split()
            try:
                if len(parts) < 7:
                    raise ValueError
                [float(x) for x in parts[:7]]
            except ValueError:
                fail(i + 1 + j, f"expected 'R1 R2 R3 m n ReH ImH', found {ln.strip()!r}")
        raise
    if data.ndim != 2 or data.shape[1] != 7:
        fail(i + 1, "expected 7 columns per line")
    if not np.all(np.isfinite(data)):
        fail(i + 1, "non-finite matrix element")
    data = data.reshape(nrpts, num_wann * num_wann, 7)
    R = data[:, 0, :3].astype(int)
    if np.any(data[:, :, :3] != data[:, :1, :3]):
        fail(i + 1, "R changes inside an R block (lines must be grouped by R)")
    m = data[:, :, 3].astype(int) - 1
    n = data[:, :, 4].astype(int) - 1
    if m.min() < 0 or n.min() < 0 or m.max() >= num_wann or n.max() >= num_wann:
        fail(i + 1, f"orbital index outside 1..{num_wann}")
    H = np.zeros((nrpts, num_wann, num_wann), dtype=complex)
    r_idx = np.repeat(np.arange(nrpts), num_wann * num_wann).reshape(nrpts, -1)
    H[r_idx, m, n] = data[:, :, 5] + 1j * data[:, :, 6]
    H /= np.asarray(deg, dtype=float)[:, None, None]
    return R, H


def write_hr(path: str, R, H, comment: str = "written by hpcorb"):
    """Write H(R) as ``_hr.dat`` with all degeneracies 1 (exact round trip)."""
    R = np.asarray(R, dtype=int)
    H = np.asarray(H, dtype=complex)
    nR, n, _ = H.shape
    with open(path, "w", encoding="utf-8") as f:
        f.write(comment.replace("\n", " ") + "\n")
        f.write(f"{n:12d}\n{nR:12d}\n")
        ones = ["    1"] * nR
        for j in range(0, nR, 15):
            f.write("".join(ones[j:j + 15]) + "\n")
        for r in range(nR):
            a, b, c = R[r]
            for col in range(n):          # Wannier90 order: m fastest, then n
                for row in range(n):
                    h = H[r, row, col]
                    f.write(f"{a:5d}{b:5d}{c:5d}{row + 1:5d}{col + 1:5d}"
                            f"{h.real:24.16e}{h.imag:24.16e}\n")
