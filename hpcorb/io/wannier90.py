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

import os

import numpy as np

from ..errors import InputError
from .textfile import read_lines


def read_hr(path: str):
    """Return (R [nR, 3] int, H [nR, N, N] complex eV with degeneracies divided out)."""
    lines, fail = read_lines(path, "Wannier90 _hr.dat")

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
        tokens = " ".join(body).split()     # fast path: exactly 7 numbers per line (Wannier90's layout)
        if len(tokens) != 7 * need:
            raise ValueError
        data = np.array(tokens, dtype=float).reshape(need, 7)
    except ValueError:
        data = None
    try:
        if data is None:
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
        # Wannier90 order: per R, m (row) fastest, then n (column); one formatting call
        rows = np.empty((nR, n, n, 7))
        rows[..., :3] = R[:, None, None, :]
        rows[..., 3] = np.arange(1, n + 1)[None, None, :]
        rows[..., 4] = np.arange(1, n + 1)[None, :, None]
        Ht = H.transpose(0, 2, 1)
        rows[..., 5] = Ht.real
        rows[..., 6] = Ht.imag
        f.write(("%5d%5d%5d%5d%5d%24.16e%24.16e\n" * (nR * n * n)) % tuple(rows.ravel().tolist()))


# ---------------------------------------------------------------------------
# centres.xyz, tb.dat, and writing any hpcorb model

def read_centres(path: str):
    """``seedname_centres.xyz``: (centres (n_wf, 3), atoms [(symbol, (3,))]) in Angstrom.

    Layout: number of lines that follow the comment, a comment, then one line
    per Wannier function ``X x y z`` followed by one line per atom
    ``Symbol x y z`` (Wannier90 writes atoms when ``write_xyz = true``).
    """
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror})") from None
    try:
        n = int(lines[0].split()[0])
    except (ValueError, IndexError):
        raise InputError(f"{path}:1: malformed centres.xyz: expected the number of entries") from None
    body = lines[2:2 + n]
    if len(body) != n:
        raise InputError(f"{path}: malformed centres.xyz: expected {n} entries, found {len(body)}")
    centres, atoms = [], []
    for k, ln in enumerate(body, start=3):
        parts = ln.split()
        try:
            xyz = np.array([float(x) for x in parts[1:4]])
            assert len(xyz) == 3
        except (ValueError, AssertionError):
            raise InputError(f"{path}:{k}: malformed centres.xyz: expected 'SYMBOL x y z', found {ln.strip()!r}") from None
        if parts[0] == "X":
            if atoms:
                raise InputError(f"{path}:{k}: Wannier centre 'X' after the atoms")
            centres.append(xyz)
        else:
            atoms.append((parts[0], xyz))
    return np.array(centres).reshape(-1, 3), atoms


def write_centres(path: str, centres, atoms=None, comment: str = "Wannier centres, written by hpcorb"):
    """Write ``centres.xyz``: the Wannier-function centres and (optional) atoms [(symbol, xyz)]."""
    centres = np.asarray(centres, dtype=float).reshape(-1, 3)
    atoms = atoms or []
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"{len(centres) + len(atoms):6d}\n{comment}\n")
        for c in centres:
            f.write(f"X {c[0]:22.16f}{c[1]:22.16f}{c[2]:22.16f}\n")
        for sym, c in atoms:
            f.write(f"{sym:<2s}{c[0]:22.16f}{c[1]:22.16f}{c[2]:22.16f}\n")


def read_tb(path: str):
    """``seedname_tb.dat``: (lattice (3,3) rows Angstrom, R, H (degeneracies divided out),
    r (nR, 3, N, N) position matrix elements <m0|r|nR> in Angstrom).

    Layout (Wannier90 >= 2.1): comment; 3 lattice vectors; num_wann; nrpts;
    degeneracies (15 per line); per R: a blank line, ``R1 R2 R3``, num_wann^2
    lines ``m n ReH ImH``; then per R: blank, ``R1 R2 R3``, num_wann^2 lines
    ``m n Re x Im x Re y Im y Re z Im z``.
    """
    lines, fail = read_lines(path, "Wannier90 _tb.dat")

    try:
        lattice = np.array([[float(x) for x in lines[i].split()[:3]] for i in (1, 2, 3)])
        assert lattice.shape == (3, 3)
    except (ValueError, AssertionError, IndexError):
        fail(2, "expected 3 lattice vectors (Angstrom) on lines 2-4")
    try:
        nw = int(lines[4].split()[0])
        nr = int(lines[5].split()[0])
    except (ValueError, IndexError):
        fail(5, "expected num_wann and nrpts")
    deg, i = [], 6
    while len(deg) < nr:
        if i >= len(lines):
            fail(i, "file ends inside the degeneracies")
        try:
            deg += [int(x) for x in lines[i].split()]
        except ValueError:
            fail(i + 1, f"expected integer degeneracies, found {lines[i]!r}")
        i += 1
    tokens = []     # (lineno, list of words) of the non-blank lines
    for k in range(i, len(lines)):
        w = lines[k].split()
        if w:
            tokens.append((k + 1, w))
    need = nr * (1 + nw * nw)
    if len(tokens) < 2 * need:
        fail(len(lines), f"expected {2 * need} non-blank lines after the degeneracies, found {len(tokens)}")
    R = np.zeros((nr, 3), dtype=int)
    H = np.zeros((nr, nw, nw), dtype=complex)
    r = np.zeros((nr, 3, nw, nw), dtype=complex)
    pos = 0
    for block in range(2):
        for ir in range(nr):
            ln, w = tokens[pos]
            try:
                Rv = [int(x) for x in w[:3]]
                assert len(Rv) == 3
            except (ValueError, AssertionError):
                fail(ln, f"expected 'R1 R2 R3', found {' '.join(w)!r}")
            if block == 0:
                R[ir] = Rv
            elif np.any(R[ir] != Rv):
                fail(ln, "position block R differs from the Hamiltonian block")
            pos += 1
            try:
                arr = np.array([[float(x) for x in tokens[pos + q][1][:4 if block == 0 else 8]]
                                for q in range(nw * nw)])
            except ValueError:
                fail(tokens[pos][0], "non-numeric matrix element")
            if arr.shape[1] != (4 if block == 0 else 8):
                fail(tokens[pos][0], "too few columns")
            m = arr[:, 0].astype(int) - 1
            n = arr[:, 1].astype(int) - 1
            if m.min() < 0 or n.min() < 0 or m.max() >= nw or n.max() >= nw:
                fail(tokens[pos][0], f"orbital index outside 1..{nw}")
            if block == 0:
                H[ir, m, n] = arr[:, 2] + 1j * arr[:, 3]
            else:
                for c in range(3):
                    r[ir, c, m, n] = arr[:, 2 + 2 * c] + 1j * arr[:, 3 + 2 * c]
            pos += nw * nw
    d = np.asarray(deg, dtype=float)
    return lattice, R, H / d[:, None, None], r / d[:, None, None, None]


def read_tb_lattice(path: str):
    """Only the lattice (3, 3) rows, Angstrom, of a ``_tb.dat`` (lines 2-4)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            head = [f.readline() for _ in range(4)]
        lattice = np.array([[float(x) for x in ln.split()[:3]] for ln in head[1:4]])
        assert lattice.shape == (3, 3)
    except (OSError, ValueError, AssertionError):
        raise InputError(f"{path}:2: malformed Wannier90 _tb.dat: expected 3 lattice vectors "
                         "(Angstrom) on lines 2-4") from None
    return lattice


def write_tb(path: str, lattice, R, H, positions, comment: str = "written by hpcorb"):
    """Write ``_tb.dat`` (degeneracies 1); position matrix: diag(positions) at R = 0, else 0."""
    R = np.asarray(R, dtype=int)
    H = np.asarray(H, dtype=complex)
    nR, n, _ = H.shape
    with open(path, "w", encoding="utf-8") as f:
        f.write(comment.replace("\n", " ") + "\n")
        for v in np.asarray(lattice, dtype=float):
            f.write(f"{v[0]:22.16f}{v[1]:22.16f}{v[2]:22.16f}\n")
        f.write(f"{n:12d}\n{nR:12d}\n")
        for j in range(0, nR, 15):
            f.write("    1" * len(range(j, min(j + 15, nR))) + "\n")
        for r in range(nR):
            f.write("\n" + "%5d%5d%5d\n" % tuple(R[r]))
            for col in range(n):
                for row in range(n):
                    h = H[r, row, col]
                    f.write(f"{row + 1:5d}{col + 1:5d}{h.real:24.16e}{h.imag:24.16e}\n")
        pos = np.asarray(positions, dtype=float)
        for r in range(nR):
            f.write("\n" + "%5d%5d%5d\n" % tuple(R[r]))
            at0 = np.all(R[r] == 0)
            for col in range(n):
                for row in range(n):
                    x = pos[row] if (at0 and row == col) else np.zeros(3)
                    f.write(f"{row + 1:5d}{col + 1:5d}" + "".join(f"{v:24.16e}{0.0:24.16e}" for v in x) + "\n")


def orbital_specs(model) -> list:
    """The ``[model] orbitals`` entries describing a model's basis ('ATOM:CHAR[:up|down]')."""
    out = []
    for a, o, s in zip(model.atoms, model.orbitals, model.spins):
        out.append(f"{int(a)}:{o}" + ("" if s < 0 else (":up" if s == 0 else ":down")))
    return out


def spinor_order(model):
    """Permutation putting a spinful model into Wannier90's spinor order (up, down per
    function), or None when the states cannot be paired (then written as they are)."""
    spins = np.asarray(model.spins)
    if not np.all(spins >= 0):
        return None
    perm, used = [], set()
    for i in np.flatnonzero(spins == 0):
        partner = [j for j in np.flatnonzero(spins == 1)
                   if j not in used and model.atoms[j] == model.atoms[i]
                   and model.orbitals[j] == model.orbitals[i]
                   and np.allclose(model.positions[j], model.positions[i])]
        if not partner:
            return None
        used.add(partner[0])
        perm += [int(i), int(partner[0])]
    return np.array(perm) if len(perm) == len(spins) else None


def write_model(model, seedname: str, comment: str | None = None, spinor_order_w90: bool = True,
                mesh=None) -> dict:
    """Write any orthogonal hpcorb model as ``seedname_hr.dat``, ``seedname_centres.xyz``,
    ``seedname_tb.dat`` and a deck snippet ``seedname_model.toml`` ([model] keys that read it
    back with the same basis metadata).  Returns the paths (and ``"order"``: the model's state
    index of each written Wannier function).

    Spinful models are written in Wannier90's spinor order (for each spin-up function, it
    and its spin-down partner; hpcorb's own order is per atom all up, then all down), so
    external codes read them as a Wannier90 spinor model and the deck snippet lists the
    spin-up functions only; ``spinor_order_w90=False`` keeps the model's order (the
    snippet then carries explicit ':up'/':down' suffixes).
    Non-orthogonal models (NRL) have no finite R-space orthonormal form: with ``mesh``
    (e.g. (14, 14, 14)) the Loewdin Hamiltonian on that k-mesh is Fourier transformed
    (:func:`hpcorb.models.materials.orthogonalized_model`: exact on the mesh,
    interpolated between); without it they are refused.
    """
    import json
    if model.S is not None:
        if mesh is None:
            raise InputError(f"model {model.name!r} is non-orthogonal (NRL); Wannier90 files need an "
                             "orthonormal basis: give a k-mesh to orthogonalize on (mesh=...)")
        from ..models.materials import orthogonalized_model
        model = orthogonalized_model(model, mesh)
    comment = comment or f"written by hpcorb from model {model.name}"
    paths = {"hr_file": seedname + "_hr.dat", "centres_file": seedname + "_centres.xyz",
             "tb_file": seedname + "_tb.dat", "deck": seedname + "_model.toml"}
    spin = bool(np.any(model.spins >= 0))
    perm = spinor_order(model) if (spin and spinor_order_w90) else None
    order = np.arange(model.norb) if perm is None else perm
    H = model.H[:, order][:, :, order]
    pos = model.positions[order]
    write_hr(paths["hr_file"], model.R, H, comment)
    nat = int(model.atoms.max()) + 1
    atom_pos = [model.positions[np.flatnonzero(model.atoms == a)[0]] for a in range(nat)]
    sym = str(model.meta.get("element", ""))[:2]
    if not sym or not sym[0].isalpha() or sym == "X":
        sym = "Xx"                       # "X" lines are Wannier centres in centres.xyz
    write_centres(paths["centres_file"], pos, [(sym, p) for p in atom_pos], comment)
    write_tb(paths["tb_file"], model.lattice, model.R, H, pos, comment)
    if perm is not None:
        specs = [f"{int(model.atoms[i])}:{model.orbitals[i]}" for i in order[::2]]
    else:
        specs = [orbital_specs(model)[i] for i in order]
    with open(paths["deck"], "w", encoding="utf-8") as f:
        f.write(f"# [model] table reading back {os.path.basename(paths['hr_file'])} (hpcorb)\n[model]\n")
        f.write(f'hr_file = "{os.path.basename(paths["hr_file"])}"\n')
        f.write(f'centres_file = "{os.path.basename(paths["centres_file"])}"\n')
        f.write("lattice = " + json.dumps(np.asarray(model.lattice).tolist()) + "\n")
        f.write(f"spin = {'true' if spin else 'false'}\n")
        if model.electrons is not None:
            f.write(f"electrons = {float(model.electrons)!r}\n")
        f.write("orbitals = " + json.dumps(specs) + "\n")
    paths["order"] = order
    return paths


def read_wsvec(path: str, R, n: int):
    """``seedname_wsvec.dat`` (Wannier90 >= 2.1, ``use_ws_distance``): the Wigner-Seitz
    shifts of every (R, m, n) element, as a list over R of dicts {(m, n): T (ndeg, 3) int}
    holding only the non-trivial entries (T != 0 or ndeg > 1), m, n 0-based.

    Layout: a header line; then per R and pair: ``R1 R2 R3 m n`` (1-based m, n),
    ``ndeg``, and ndeg lines of integer shifts T (lattice units) such that
    Wannier90 interpolates ``H_mn(k) = sum_R sum_T exp(i k.(R + T)) H_mn(R) / (deg_R ndeg)``.
    """
    lines, fail = read_lines(path, "Wannier90 _wsvec.dat")
    index = {tuple(int(x) for x in r): i for i, r in enumerate(np.asarray(R, dtype=int))}
    out = [dict() for _ in range(len(index))]
    seen = np.zeros((len(index), n, n), dtype=bool)
    i = 1
    nl = len(lines)
    while i < nl:
        w = lines[i].split()
        if not w:
            i += 1
            continue
        try:
            r1, r2, r3, m, k = (int(x) for x in w[:5])
            nd = int(lines[i + 1].split()[0])
            T = np.array([[int(x) for x in lines[i + 2 + d].split()[:3]] for d in range(nd)], dtype=int)
        except (ValueError, IndexError):
            fail(i + 1, f"expected 'R1 R2 R3 m n', ndeg and ndeg shift lines, found {lines[i].strip()!r}")
        if nd < 1 or T.shape != (nd, 3):
            fail(i + 2, f"ndeg must be >= 1 with {nd} lines of 3 integer shifts")
        ir = index.get((r1, r2, r3))
        if ir is None:
            fail(i + 1, f"R = ({r1}, {r2}, {r3}) is not in the Hamiltonian file")
        if not (1 <= m <= n and 1 <= k <= n):
            fail(i + 1, f"orbital index outside 1..{n}")
        seen[ir, m - 1, k - 1] = True
        if nd > 1 or np.any(T != 0):
            out[ir][(m - 1, k - 1)] = T
        i += 2 + nd
    if not seen.all():
        ir, m, k = np.argwhere(~seen)[0]
        raise InputError(f"{path}: malformed Wannier90 _wsvec.dat: no entry for R = "
                         f"{tuple(int(x) for x in np.asarray(R)[ir])}, m = {m + 1}, n = {k + 1}")
    return out


def apply_wsvec(R, H, shifts):
    """Spread H(R) over the Wigner-Seitz images: returns (R', H') with
    ``H'(R + T)_mn += H_mn(R) / ndeg`` for each shift T of (R, m, n), so that a plain
    Fourier sum over R' equals Wannier90's ``use_ws_distance`` interpolation exactly."""
    R = np.asarray(R, dtype=int)
    H = np.asarray(H, dtype=complex)
    if not any(shifts):
        return R, H
    index = {tuple(r): i for i, r in enumerate(R)}
    newR = [tuple(r) for r in R]
    extra = {}
    Hn = H.copy()
    for ir, d in enumerate(shifts):
        for (m, k), T in d.items():
            h = H[ir, m, k] / len(T)
            Hn[ir, m, k] = 0.0
            for t in T:
                key = tuple(int(x) for x in R[ir] + t)
                j = index.get(key)
                if j is None:
                    j = len(newR)
                    index[key] = j
                    newR.append(key)
                extra.setdefault(j, []).append((m, k, h))
    if len(newR) > len(R):
        Hn = np.concatenate([Hn, np.zeros((len(newR) - len(R),) + H.shape[1:], complex)])
    for j, items in extra.items():
        for m, k, h in items:
            Hn[j, m, k] += h
    keep = np.abs(Hn).reshape(len(newR), -1).max(axis=1) > 0
    if (0, 0, 0) in index:
        keep[index[(0, 0, 0)]] = True
    return np.array(newR, dtype=int)[keep], Hn[keep]


# ---------------------------------------------------------------------------
# export: seedname.win + _hr.dat + _centres.xyz + _tb.dat in Wannier90's own order

# hpcorb label -> (l, mr) of Wannier90 (user guide, "Projections")
_LMR = {"s": (0, 1), "pz": (1, 1), "px": (1, 2), "py": (1, 3), "dz2": (2, 1), "dzx": (2, 2),
        "dyz": (2, 3), "dx2-y2": (2, 4), "dxy": (2, 5)}
_W90NAME = {"s": "s", "pz": "pz", "px": "px", "py": "py", "dz2": "dz2", "dzx": "dxz", "dyz": "dyz",
            "dx2-y2": "dx2-y2", "dxy": "dxy"}


def w90_order(model):
    """Permutation of a model's states into the order Wannier90 expands a projections
    block with one line per atom: atom, then l, m_r, then spin (up, down: interleaved)."""
    bad = sorted({o for o in model.orbitals if o not in _LMR})
    if bad:
        raise InputError(f"model {model.name!r}: functions without a Wannier90 orbital character "
                         f"({', '.join(bad)}); a .win needs s/p/d projections")
    spins = np.asarray(model.spins)
    key = [(int(a), _LMR[o], int(max(s, 0))) for a, o, s in zip(model.atoms, model.orbitals, spins)]
    if len(set(key)) != len(key):
        raise InputError(f"model {model.name!r}: an atom carries the same orbital twice; a .win "
                         "projection cannot tell them apart")
    perm = np.array(sorted(range(len(key)), key=lambda i: key[i]))
    if np.any(spins >= 0):
        sp = spins[perm]
        if np.any(sp[0::2] != 0) or np.any(sp[1::2] != 1):
            raise InputError(f"model {model.name!r}: not every orbital has an up and a down state")
    return perm


def write_win(path, model, order, symbols, comment="written by hpcorb"):
    """``seedname.win`` describing the functions ``order`` of ``model`` (one species label
    per atom, so each projection line names one site)."""
    spin = bool(np.any(np.asarray(model.spins) >= 0))
    atoms = np.asarray(model.atoms)[order]
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"! {comment}\n")
        f.write("! hpcorb export: Wannier functions in Wannier90's projection order"
                + (" with interleaved spinors (up, down per projection; hpcorb spinor_order = "
                   "\"interleaved\")" if spin else "") + "\n")
        f.write(f"num_wann = {len(order)}\nspinors = {'.true.' if spin else '.false.'}\n")
        f.write("use_ws_distance = .false.\n")
        f.write("\nbegin unit_cell_cart\nang\n")
        for v in np.asarray(model.lattice, dtype=float):
            f.write(f"{v[0]:20.12f}{v[1]:20.12f}{v[2]:20.12f}\n")
        f.write("end unit_cell_cart\n\nbegin atoms_cart\nang\n")
        seen = []
        for a in atoms:
            if a not in seen:
                seen.append(a)
        for a in seen:
            p = model.positions[np.flatnonzero(np.asarray(model.atoms) == a)[0]]
            f.write(f"{symbols[a]:<6s}{p[0]:20.12f}{p[1]:20.12f}{p[2]:20.12f}\n")
        f.write("end atoms_cart\n\nbegin projections\n")
        for a in seen:
            names = []
            for i in order:
                if model.atoms[i] == a and (not spin or model.spins[i] == 0):
                    names.append(_W90NAME[model.orbitals[i]])
            f.write(f"{symbols[a]}: {';'.join(names)}\n")
        f.write("end projections\n")
        if model.electrons is not None:
            f.write(f"! electrons per cell in these functions: {float(model.electrons):g}\n")


def export_model(model, seedname: str, comment: str | None = None) -> dict:
    """Write ``seedname.win``, ``_hr.dat``, ``_centres.xyz`` and ``_tb.dat`` of an orthogonal
    model so that ``[model] wannier90 = "seedname"`` (and Wannier90-reading codes) read it
    back: basis permuted into Wannier90's projection order (:func:`w90_order`).  Returns the
    paths and ``"order"`` (the model state of each written function)."""
    if model.S is not None:
        raise InputError(f"model {model.name!r} is non-orthogonal; export its orthogonalized form")
    comment = comment or f"written by hpcorb from model {model.name}"
    order = w90_order(model)
    H = model.H[:, order][:, :, order]
    pos = model.positions[order]
    paths = {k: seedname + s for k, s in (("win", ".win"), ("hr_file", "_hr.dat"),
                                          ("centres_file", "_centres.xyz"), ("tb_file", "_tb.dat"))}
    nat = int(np.max(model.atoms)) + 1
    sym = str(model.meta.get("element", "")).strip()[:2]
    if not sym or not sym[0].isalpha() or sym.upper() == "X":
        sym = "A"
    symbols = {a: (sym if nat == 1 else f"{sym}{a + 1}") for a in range(nat)}
    write_win(paths["win"], model, order, symbols, comment)
    write_hr(paths["hr_file"], model.R, H, comment)
    atoms_present = sorted(set(int(a) for a in model.atoms))
    atom_pos = [(symbols[a][:2].rstrip("0123456789") or "A",
                 model.positions[np.flatnonzero(model.atoms == a)[0]]) for a in atoms_present]
    write_centres(paths["centres_file"], pos, atom_pos, comment)
    write_tb(paths["tb_file"], model.lattice, model.R, H, pos, comment)
    paths["order"] = order
    return paths
