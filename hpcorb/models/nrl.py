"""NRL tight binding (Mehl & Papaconstantopoulos, PRB 54, 4519 (1996)).

Native parameter files (the NRL database format, units Ry and bohr):

* line 1: type code ``NN00000`` (old-style overlaps) or ``NN00001`` (new style);
  line 2 name; line 3 number of atom types (only 1 is supported);
  line 4 ``R0 Rc l`` -- cutoff ``F(R) = 1/(1 + exp((R - R0)/l))`` for R < Rc,
  0 beyond (the file calls them "Rc, Rmax, delta"); line 5 orbitals; line 6
  mass; line 7 formal s, p, d valence.
* then one parameter per line: ``value flag index label``.  The on-site block
  is read **by label** (``lambda``, ``a_s b_s c_s d_s``, ... ``d_eg``); the
  ``pt_par`` variant (``a, b1..b4`` per s, p, d with
  ``h = a + b1 rho^1/3 + b2 rho^2/3 + b3 rho^4/3 + b4 rho^2``, one d value for
  t2g and eg, then a "skip line") is recognized by its labels.
* the last 80 lines are the bond parameters (e, f, fbar, g) for the ten bonds
  ss-sigma, sp-sigma, pp-sigma, pp-pi, sd-sigma, pd-sigma, pd-pi, dd-sigma,
  dd-pi, dd-delta, first the Hamiltonian then the overlap.  They are read by
  position (some files carry typos in these labels, e.g. nb_par_125 labels a
  dd-pi overlap "fbar_{pp pi}").

Formulas (R in bohr, energies Ry):

* density ``rho_i = sum_{j != i} exp(-lambda^2 R_ij) F(R_ij)`` (all neighbours
  inside Rc, periodic images included);
* on-site ``h_l = a_l + b_l rho^2/3 + c_l rho^4/3 + d_l rho^2``, l = s, p, t2g, eg;
* Hamiltonian bonds ``(e + f R + fbar R^2) exp(-g^2 R) F(R)``;
* overlap bonds: old style the same form; new style
  ``(delta + e R + f R^2 + fbar R^3) exp(-g^2 R) F(R)`` with delta = 1 for
  ss-sigma, pp-sigma, pp-pi, dd-sigma, dd-pi, dd-delta and 0 otherwise.
* on-site overlap = identity.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..io.textfile import read_lines

ONSITE_KEYS = ("s", "p", "t2g", "eg")
SAME_TYPE = np.array([1, 0, 1, 1, 0, 0, 0, 1, 1, 1], dtype=float)   # ss, pp, dd bonds (new style)


@dataclass
class NRLParameters:
    name: str
    style: str                 # "old" | "new"
    R0: float
    Rc: float
    ell: float
    valence: tuple
    lam: float
    onsite: dict               # l -> coefficients (powers of rho below)
    powers: tuple              # exponents of rho for the on-site coefficients
    hop: np.ndarray            # (10, 4) e, f, fbar, g (Hamiltonian)
    ovl: np.ndarray            # (10, 4) (overlap)
    path: str = ""
    quirks: str = ""

    # ---- formulas (bohr, Ry) --------------------------------------------
    def cutoff(self, R):
        R = np.asarray(R, dtype=float)
        with np.errstate(over="ignore"):
            F = 1.0 / (1.0 + np.exp((R - self.R0) / self.ell))
        return np.where(R < self.Rc, F, 0.0)

    def density_terms(self, R):
        return np.exp(-self.lam ** 2 * np.asarray(R)) * self.cutoff(R)

    def onsite_energies(self, rho) -> dict:
        """h_l(rho) in Ry for l = s, p, t2g, eg (arrays like rho)."""
        rho = np.asarray(rho, dtype=float)
        out = {}
        for l in ONSITE_KEYS:
            c = self.onsite[l]
            out[l] = sum(ci * rho ** p for ci, p in zip(c, self.powers))
        return out

    def bonds(self, R):
        """Hamiltonian and overlap bond integrals (len(R), 10) in Ry (hpcorb bond order)."""
        R = np.asarray(R, dtype=float)[:, None]
        F = self.cutoff(R)
        e, f, fb, g = (self.hop[None, :, c] for c in range(4))
        H = (e + f * R + fb * R ** 2) * np.exp(-g ** 2 * R) * F
        e, f, fb, g = (self.ovl[None, :, c] for c in range(4))
        if self.style == "new":
            S = (SAME_TYPE[None, :] + e * R + f * R ** 2 + fb * R ** 3) * np.exp(-g ** 2 * R) * F
        else:
            S = (e + f * R + fb * R ** 2) * np.exp(-g ** 2 * R) * F
        return H, S


def _floats(line):
    out = []
    for w in line.split():
        try:
            out.append(float(w))
        except ValueError:
            break
    return out


def read_nrl(path: str) -> NRLParameters:
    """Read a native NRL tight-binding parameter file (single element)."""
    lines, fail = read_lines(path, "NRL parameter file")

    if len(lines) < 8:
        fail(len(lines), "file too short")
    code = lines[0].split()[0] if lines[0].split() else ""
    if code not in ("NN00000", "NN00001"):
        fail(1, f"expected type code NN00000 (old style) or NN00001 (new style), found {code!r}")
    style = "old" if code == "NN00000" else "new"
    name = lines[1].strip()
    ntypes = _floats(lines[2])
    if not ntypes or int(ntypes[0]) != 1:
        fail(3, "only single-element files (1 atom type) are supported")
    cut = _floats(lines[3])
    if len(cut) < 3:
        fail(4, "expected 'R0 Rc l' (cutoff parameters)")
    R0, Rc, ell = cut[:3]
    norb = _floats(lines[4])
    if not norb or int(norb[0]) != 9:
        fail(5, "only s, p, d files (9 orbitals) are supported")
    val = _floats(lines[6])
    if len(val) < 3:
        fail(7, "expected the formal s p d valence occupancy")
    params = []           # (lineno, value, label)
    for k, ln in enumerate(lines[7:], start=8):
        if not ln.strip():
            continue
        parts = ln.split()
        try:
            v = float(parts[0])
            int(parts[1]), int(parts[2])
        except (ValueError, IndexError):
            fail(k, f"expected 'value flag index label', found {ln.strip()!r}")
        label = " ".join(parts[3:])
        params.append((k, v, label))
    if len(params) < 81:
        fail(len(lines), f"expected at least 81 parameters, found {len(params)}")
    bond = params[-80:]
    head = params[:-80]

    def labkey(label):
        # first word that looks like a parameter name (skip "Nb-001" style prefixes)
        for w in label.split():
            wl = w.lower()
            if wl == "lambda" or "_" in wl or wl in ("skip",):
                return wl
        return label.split()[-1].lower() if label.split() else ""

    table = {}
    for k, v, label in head:
        key = labkey(label)
        if key.startswith("skip"):
            continue
        table[key] = (v, k)
    if "lambda" not in table:
        fail(head[0][0] if head else 8, "no 'lambda' parameter found")
    lam = table["lambda"][0]
    quirks = []
    if "b1_s" in table:     # pt_par variant
        powers = (0.0, 1 / 3, 2 / 3, 4 / 3, 2.0)
        onsite = {}
        for l, src in (("s", "s"), ("p", "p"), ("t2g", "d"), ("eg", "d")):
            try:
                onsite[l] = [table[f"{c}_{src}"][0] for c in ("a", "b1", "b2", "b3", "b4")]
            except KeyError as e:
                fail(8, f"missing on-site parameter {e.args[0]}")
        quirks.append("on-site a + b1 rho^1/3 + b2 rho^2/3 + b3 rho^4/3 + b4 rho^2, one d value (pt_par form)")
    else:
        powers = (0.0, 2 / 3, 4 / 3, 2.0)
        onsite = {}
        for l in ONSITE_KEYS:
            try:
                onsite[l] = [table[f"{c}_{l}"][0] for c in ("a", "b", "c", "d")]
            except KeyError as e:
                fail(8, f"missing on-site parameter {e.args[0]}")
    bv = np.array([v for _, v, _ in bond]).reshape(2, 10, 4)
    # sanity of the bond block by label prefix (e_, f_, fbar_, g_)
    for (k, v, label), want in zip(bond, ["e_", "f_", "fbar_", "g_"] * 20):
        key = labkey(label)
        if not key.startswith(want):
            fail(k, f"expected a bond parameter {want}..., found {label!r}")
    return NRLParameters(name=name, style=style, R0=R0, Rc=Rc, ell=ell, valence=tuple(val[:3]),
                         lam=lam, onsite=onsite, powers=powers, hop=bv[0], ovl=bv[1], path=path,
                         quirks="; ".join(quirks))
