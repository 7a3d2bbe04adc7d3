"""Wannier90 input files ``seedname.win``: unit cell, atoms, projections, spinors.

What is read (Wannier90 user guide, chapter "Parameters" and "Projections"):

* ``begin unit_cell_cart`` (optional first line ``bohr`` or ``ang``; default
  Angstrom): rows a1, a2, a3, returned in Angstrom.
* ``begin atoms_cart`` (optional units line) or ``begin atoms_frac``: one
  ``Symbol x y z`` per atom, returned as Cartesian Angstrom.
* ``begin projections`` (optional units line for ``c=`` sites): lines
  ``SITE : ORBITALS [: z=..: x=..: r=..: zona=..]`` with SITE a species
  label, ``c=x,y,z`` (Cartesian) or ``f=x,y,z`` (fractional), ORBITALS
  ``;``-separated names (``s``, ``p``, ``pz``, ``dxz``, ``sp3``, ``sp3d2-4``, ...)
  or ``l=L[,mr=M1,M2...]`` codes, spinor suffixes ``(u,d)`` and ``[qaxis]``.
* ``spinors``, ``num_wann``, ``mp_grid``, ``use_ws_distance``, ``fermi_energy``.

Order of the Wannier functions (Wannier90's projection expansion): lines in
file order; within a line the sites of the species in order of appearance,
then l from -5 to 3, then m_r ascending, then spin (up, down).  With
``spinors = .true.`` that is the *interleaved* spinor order (up and down of
each projection next to each other); codes that write the *block* order (all
up, then all down, e.g. VASP's interface) are handled by
:func:`hpcorb.models.spinor` on top of this list.

Everything malformed raises :class:`hpcorb.errors.InputError` naming the file,
the line and what is allowed.  No code from Wannier90 is used here; only its
documented file format.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError

BOHR = 0.52917721092      # Angstrom; Wannier90 3.x's default conversion

# Wannier90 orbital names -> (l, mr)
_SHELL_NAMES = {"s": (0, [1]), "p": (1, [1, 2, 3]), "d": (2, [1, 2, 3, 4, 5]),
                "f": (3, list(range(1, 8))), "sp": (-1, [1, 2]), "sp2": (-2, [1, 2, 3]),
                "sp3": (-3, [1, 2, 3, 4]), "sp3d": (-4, [1, 2, 3, 4, 5]),
                "sp3d2": (-5, [1, 2, 3, 4, 5, 6])}
_SINGLE = {"pz": (1, 1), "px": (1, 2), "py": (1, 3),
           "dz2": (2, 1), "dxz": (2, 2), "dyz": (2, 3), "dx2-y2": (2, 4), "dxy": (2, 5),
           "fz3": (3, 1), "fxz2": (3, 2), "fyz2": (3, 3), "fxyz": (3, 4), "fz(x2-y2)": (3, 5),
           "fx(x2-3y2)": (3, 6), "fy(3x2-y2)": (3, 7)}
for _name, (_l, _mrs) in list(_SHELL_NAMES.items()):
    if _l < 0:
        for _m in _mrs:
            _SINGLE[f"{_name}-{_m}"] = (_l, _m)
_N_MR = {0: 1, 1: 3, 2: 5, 3: 7, -1: 2, -2: 3, -3: 4, -4: 5, -5: 6}

# (l, mr) of a pure real harmonic -> hpcorb's orbital label (None: no hpcorb label, f)
HPCORB_LABEL = {(0, 1): "s", (1, 1): "pz", (1, 2): "px", (1, 3): "py",
                (2, 1): "dz2", (2, 2): "dzx", (2, 3): "dyz", (2, 4): "dx2-y2", (2, 5): "dxy"}
W90_NAME = {v: k for k, v in _SINGLE.items()}
W90_NAME[(0, 1)] = "s"


def w90_name(l: int, mr: int) -> str:
    return W90_NAME.get((l, mr), f"l={l},mr={mr}")


@dataclass
class Projection:
    """One Wannier function of the projection list (one spinor component)."""
    site: np.ndarray               # Cartesian, Angstrom
    atom: int                      # index into Win.atoms, or -1 for a c=/f= site
    l: int
    mr: int
    spin: int                      # 0 up, 1 down, -1 spinless
    zaxis: np.ndarray
    xaxis: np.ndarray
    line: str                      # the projection line as written (for messages)
    lineno: int

    @property
    def name(self) -> str:
        return w90_name(self.l, self.mr)

    @property
    def rotated(self) -> bool:
        return not (np.allclose(self.zaxis, [0, 0, 1]) and np.allclose(self.xaxis, [1, 0, 0]))


@dataclass
class Win:
    path: str
    lattice: np.ndarray | None = None          # rows, Angstrom
    atoms: list = field(default_factory=list)  # [(symbol, cart (3,))]
    projections: list = field(default_factory=list)
    spinors: bool = False
    num_wann: int | None = None
    mp_grid: tuple | None = None
    use_ws_distance: bool | None = None
    fermi_energy: float | None = None
    random: bool = False                       # 'random' projections: no orbital characters
    kpoint_path: list = field(default_factory=list)  # [(label, frac (3,), label, frac (3,))]
    bands_num_points: int = 100

    @property
    def sites(self):
        """Distinct projection sites in order: list of (key, cart)."""
        out, seen = [], {}
        for p in self.projections:
            key = p.atom if p.atom >= 0 else tuple(np.round(p.site, 6))
            if key not in seen:
                seen[key] = len(out)
                out.append((key, p.site))
        return out


def _strip(line: str) -> str:
    for c in "!#":
        i = line.find(c)
        if i >= 0:
            line = line[:i]
    return line.strip()


def _floats(text, n, fail, lineno, what):
    try:
        v = [float(x.replace("d", "e")) for x in re.split(r"[,\s]+", text.strip()) if x]
    except ValueError:
        fail(lineno, f"expected {n} numbers for {what}, found {text.strip()!r}")
    if len(v) != n:
        fail(lineno, f"expected {n} numbers for {what}, found {text.strip()!r}")
    return np.array(v)


def _logical(v: str):
    s = v.strip().lower().strip(".")
    if s in ("true", "t"):
        return True
    if s in ("false", "f"):
        return False
    return None


def read_win(path: str) -> Win:
    """Parse ``seedname.win`` (see the module docstring)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            raw = f.read().splitlines()
    except OSError as e:
        raise InputError(f"{path}: cannot read Wannier90 .win ({e.strerror})") from None

    def fail(lineno, message):
        raise InputError(f"{path}:{lineno}: malformed Wannier90 .win: {message}")

    keys, blocks = {}, {}
    i = 0
    while i < len(raw):
        s = _strip(raw[i])
        low = s.lower()
        if not s:
            i += 1
            continue
        m = re.match(r"begin\s+(\S+)", low)
        if m:
            name = m.group(1)
            body, j = [], i + 1
            while j < len(raw) and not re.match(r"end\s+" + re.escape(name) + r"\b", _strip(raw[j]).lower()):
                t = _strip(raw[j])
                if t:
                    body.append((j + 1, t))
                j += 1
            if j >= len(raw):
                fail(i + 1, f"'begin {name}' without 'end {name}'")
            blocks[name] = body
            i = j + 1
            continue
        m = re.match(r"([a-z_0-9]+)\s*[=:\s]\s*(.*)$", low)
        if m:
            keys[m.group(1)] = (i + 1, s[m.start(2):].strip())
        i += 1

    w = Win(path=path)
    if "num_wann" in keys:
        ln, v = keys["num_wann"]
        try:
            w.num_wann = int(v.split()[0])
        except (ValueError, IndexError):
            fail(ln, f"num_wann must be an integer, found {v!r}")
    if "spinors" in keys:
        ln, v = keys["spinors"]
        w.spinors = _logical(v)
        if w.spinors is None:
            fail(ln, f"spinors must be .true. or .false., found {v!r}")
    if "use_ws_distance" in keys:
        w.use_ws_distance = _logical(keys["use_ws_distance"][1])
    if "fermi_energy" in keys:
        ln, v = keys["fermi_energy"]
        w.fermi_energy = float(_floats(v.split()[0], 1, fail, ln, "fermi_energy")[0])
    if "mp_grid" in keys:
        ln, v = keys["mp_grid"]
        w.mp_grid = tuple(int(x) for x in _floats(v, 3, fail, ln, "mp_grid"))

    if "bands_num_points" in keys:
        ln, v = keys["bands_num_points"]
        w.bands_num_points = int(_floats(v.split()[0], 1, fail, ln, "bands_num_points")[0])
    for ln, t in blocks.get("kpoint_path", []):
        parts = t.split()
        if len(parts) != 8:
            fail(ln, f"kpoint_path lines are 'L1 k1 k2 k3 L2 k1 k2 k3', found {t!r}")
        w.kpoint_path.append((parts[0], _floats(" ".join(parts[1:4]), 3, fail, ln, "a k-point"),
                              parts[4], _floats(" ".join(parts[5:8]), 3, fail, ln, "a k-point")))

    if "unit_cell_cart" in blocks:
        body = blocks["unit_cell_cart"]
        scale = 1.0
        if body and body[0][1].lower() in ("bohr", "ang"):
            scale = BOHR if body[0][1].lower() == "bohr" else 1.0
            body = body[1:]
        if len(body) != 3:
            fail(body[0][0] if body else 1, "unit_cell_cart needs 3 lattice vectors")
        w.lattice = np.array([_floats(t, 3, fail, ln, "a lattice vector") for ln, t in body]) * scale
        if abs(np.linalg.det(w.lattice)) < 1e-8:
            fail(body[0][0], "unit_cell_cart vectors are linearly dependent")
    elif "unit_cell_frac" in blocks:
        fail(blocks["unit_cell_frac"][0][0] if blocks["unit_cell_frac"] else 1,
             "unit_cell_frac is not a Wannier90 block; give unit_cell_cart")

    if "atoms_cart" in blocks and "atoms_frac" in blocks:
        fail(blocks["atoms_frac"][0][0], "give atoms_cart or atoms_frac, not both")
    for name in ("atoms_cart", "atoms_frac"):
        if name not in blocks:
            continue
        body = blocks[name]
        scale = 1.0
        if name == "atoms_cart" and body and body[0][1].lower() in ("bohr", "ang"):
            scale = BOHR if body[0][1].lower() == "bohr" else 1.0
            body = body[1:]
        if name == "atoms_frac" and w.lattice is None:
            fail(body[0][0] if body else 1, "atoms_frac needs unit_cell_cart")
        for ln, t in body:
            parts = t.split(None, 1)
            if len(parts) != 2:
                fail(ln, f"expected 'Symbol x y z', found {t!r}")
            xyz = _floats(parts[1], 3, fail, ln, "an atom position")
            cart = xyz @ w.lattice if name == "atoms_frac" else xyz * scale
            w.atoms.append((parts[0], cart))

    if "projections" in blocks:
        _projections(w, blocks["projections"], fail)
    return w


def _coord(text, fail, ln, what):
    return _floats(text, 3, fail, ln, what)


def _projections(w: Win, body, fail):
    scale = 1.0
    if body and body[0][1].lower() in ("bohr", "ang"):
        scale = BOHR if body[0][1].lower() == "bohr" else 1.0
        body = body[1:]
    if len(body) == 1 and body[0][1].lower() == "random":
        w.random = True
        return
    species = {}
    for idx, (sym, _) in enumerate(w.atoms):
        species.setdefault(sym.lower(), []).append(idx)
    for ln, text in body:
        line = text
        s = re.sub(r"\s+", "", text)
        if s.lower() == "random":
            w.random = True
            continue
        if ":" not in s:
            fail(ln, f"projection {line!r}: expected 'SITE:ORBITALS'")
        site_txt, rest = s.split(":", 1)
        low = site_txt.lower()
        if low.startswith("c="):
            sites = [(-1, _coord(site_txt[2:], fail, ln, "c=") * scale)]
        elif low.startswith("f="):
            if w.lattice is None:
                fail(ln, f"projection {line!r}: f= needs unit_cell_cart")
            sites = [(-1, _coord(site_txt[2:], fail, ln, "f=") @ w.lattice)]
        else:
            if low not in species:
                fail(ln, f"projection {line!r}: site {site_txt!r} is not a species of atoms_cart/atoms_frac")
            sites = [(a, w.atoms[a][1]) for a in species[low]]
        # spin quantisation axis [..] and spin selection (u,d)
        spins = [0, 1] if w.spinors else [-1]
        m = re.search(r"\[([^\]]*)\]", rest)
        if m:
            if not w.spinors:
                fail(ln, f"projection {line!r}: a spin axis needs spinors = .true.")
            q = _coord(m.group(1), fail, ln, "the spin axis")
            if not np.allclose(q / np.linalg.norm(q), [0, 0, 1]):
                raise InputError(f"{w.path}:{ln}: projection {line!r}: spin quantisation axis "
                                 f"{q.tolist()} is not z; hpcorb's spin operators are along z "
                                 "(rotate the model or project along z)")
            rest = rest[:m.start()] + rest[m.end():]
        m = re.search(r"\(([^)]*)\)", rest)
        if m:
            if not w.spinors:
                fail(ln, f"projection {line!r}: (u,d) needs spinors = .true.")
            sel = m.group(1).lower()
            spins = [s_ for s_, c in ((0, "u"), (1, "d")) if c in sel]
            if not spins:
                fail(ln, f"projection {line!r}: (..) names neither u nor d")
            rest = rest[:m.start()] + rest[m.end():]
        fields = rest.split(":")
        orb_txt, options = fields[0], fields[1:]
        zaxis, xaxis = np.array([0.0, 0.0, 1.0]), np.array([1.0, 0.0, 0.0])
        for opt in options:
            ol = opt.lower()
            if ol.startswith("z="):
                zaxis = _coord(opt[2:], fail, ln, "z=")
            elif ol.startswith("x="):
                xaxis = _coord(opt[2:], fail, ln, "x=")
            elif ol.startswith(("r=", "zona=")) or not ol:
                pass                     # radial part: irrelevant for the tight-binding basis
            else:
                fail(ln, f"projection {line!r}: unknown option {opt!r} (allowed z=, x=, r=, zona=)")
        if np.linalg.norm(zaxis) < 1e-8 or np.linalg.norm(xaxis) < 1e-8:
            fail(ln, f"projection {line!r}: zero-length axis")
        zaxis = zaxis / np.linalg.norm(zaxis)
        xaxis = xaxis / np.linalg.norm(xaxis)
        if abs(zaxis @ xaxis) > 1e-6:
            fail(ln, f"projection {line!r}: z= and x= axes are not orthogonal")
        ang = set()
        for item in orb_txt.split(";"):
            il = item.lower()
            if not il:
                continue
            if il.startswith("l="):
                mm = re.fullmatch(r"l=(-?\d+)(?:,mr=([\d,]+))?", il)
                if not mm:
                    fail(ln, f"projection {line!r}: expected 'l=L' or 'l=L,mr=M1,M2', found {item!r}")
                l = int(mm.group(1))
                if l not in _N_MR:
                    fail(ln, f"projection {line!r}: l = {l} outside -5..3")
                mrs = [int(x) for x in mm.group(2).split(",") if x] if mm.group(2) else \
                    list(range(1, _N_MR[l] + 1))
                for mr in mrs:
                    if not 1 <= mr <= _N_MR[l]:
                        fail(ln, f"projection {line!r}: mr = {mr} outside 1..{_N_MR[l]} for l = {l}")
                    ang.add((l, mr))
            else:
                for name in il.split(","):
                    if name in _SHELL_NAMES:
                        l, mrs = _SHELL_NAMES[name]
                        ang.update((l, mr) for mr in mrs)
                    elif name in _SINGLE:
                        ang.add(_SINGLE[name])
                    else:
                        fail(ln, f"projection {line!r}: unknown orbital {name!r} (Wannier90 names: "
                             "s, p, pz, px, py, d, dz2, dxz, dyz, dx2-y2, dxy, f..., sp, sp2, sp3, "
                             "sp3d, sp3d2 (with -N), or l=L,mr=M)")
        for atom, pos in sites:
            for l in range(-5, 4):
                for mr in range(1, 8):
                    if (l, mr) in ang:
                        for sp in spins:
                            w.projections.append(Projection(np.asarray(pos, float), atom, l, mr, sp,
                                                            zaxis, xaxis, line, ln))


# ---------------------------------------------------------------------------
# Orbital content of a projection in hpcorb's global real harmonics

_ORDER9 = ("s", "px", "py", "pz", "dxy", "dyz", "dzx", "dx2-y2", "dz2")
_SHELL9 = np.array([0, 1, 1, 1, 2, 2, 2, 2, 2])
_S2, _S3, _S6, _S12 = np.sqrt(2), np.sqrt(3), np.sqrt(6), np.sqrt(12)
# hybrids: coefficients on (s, px, py, pz, dxy, dyz, dzx, dx2-y2, dz2) (user guide table)
_HYBRID = {
    (-1, 1): {"s": 1 / _S2, "px": 1 / _S2}, (-1, 2): {"s": 1 / _S2, "px": -1 / _S2},
    (-2, 1): {"s": 1 / _S3, "px": -1 / _S6, "py": 1 / _S2},
    (-2, 2): {"s": 1 / _S3, "px": -1 / _S6, "py": -1 / _S2},
    (-2, 3): {"s": 1 / _S3, "px": 2 / _S6},
    (-3, 1): {"s": .5, "px": .5, "py": .5, "pz": .5}, (-3, 2): {"s": .5, "px": .5, "py": -.5, "pz": -.5},
    (-3, 3): {"s": .5, "px": -.5, "py": .5, "pz": -.5}, (-3, 4): {"s": .5, "px": -.5, "py": -.5, "pz": .5},
    (-4, 1): {"s": 1 / _S3, "px": -1 / _S6, "py": 1 / _S2},
    (-4, 2): {"s": 1 / _S3, "px": -1 / _S6, "py": -1 / _S2},
    (-4, 3): {"s": 1 / _S3, "px": 2 / _S6},
    (-4, 4): {"pz": 1 / _S2, "dz2": 1 / _S2}, (-4, 5): {"pz": -1 / _S2, "dz2": 1 / _S2},
    (-5, 1): {"s": 1 / _S6, "px": -1 / _S2, "dz2": -1 / _S12, "dx2-y2": .5},
    (-5, 2): {"s": 1 / _S6, "px": 1 / _S2, "dz2": -1 / _S12, "dx2-y2": .5},
    (-5, 3): {"s": 1 / _S6, "py": -1 / _S2, "dz2": -1 / _S12, "dx2-y2": -.5},
    (-5, 4): {"s": 1 / _S6, "py": 1 / _S2, "dz2": -1 / _S12, "dx2-y2": -.5},
    (-5, 5): {"s": 1 / _S6, "pz": -1 / _S2, "dz2": 1 / _S3},
    (-5, 6): {"s": 1 / _S6, "pz": 1 / _S2, "dz2": 1 / _S3},
}


def _harmonics(xyz):
    """The 9 real harmonics (hpcorb order), each normalised like a unit-norm
    real spherical harmonic up to one common factor per shell, at unit vectors (n, 3)."""
    x, y, z = xyz.T
    return np.stack([np.ones_like(x), x, y, z, _S3 * x * y, _S3 * y * z, _S3 * z * x,
                     _S3 / 2 * (x * x - y * y), 0.5 * (3 * z * z - 1)], axis=1)


_PTS = np.random.default_rng(12345).normal(size=(60, 3))
_PTS /= np.linalg.norm(_PTS, axis=1)[:, None]
_Y = _harmonics(_PTS)


def coefficients(p: Projection) -> np.ndarray | None:
    """Coefficients (9,) of projection ``p``'s angular function on hpcorb's global
    s, p, d real harmonics (its local axes applied); None for f orbitals."""
    if p.l == 3:
        return None
    c_local = np.zeros(9)
    if p.l >= 0:
        c_local[_ORDER9.index(HPCORB_LABEL[(p.l, p.mr)])] = 1.0
    else:
        for k, v in _HYBRID[(p.l, p.mr)].items():
            c_local[_ORDER9.index(k)] = v
    if not p.rotated:
        return c_local
    yaxis = np.cross(p.zaxis, p.xaxis)
    M = np.array([p.xaxis, yaxis, p.zaxis])          # local coordinates of a point r: M r
    f = _harmonics(_PTS @ M.T) @ c_local             # the rotated function on the sphere
    c = np.linalg.lstsq(_Y, f, rcond=None)[0]     # rotations keep each shell: exact fit
    f = f - _Y @ c
    if np.abs(f).max() > 1e-9:                       # cannot happen for a proper rotation
        raise InputError(f"projection {p.line!r}: rotation of {p.name} failed")
    return c
