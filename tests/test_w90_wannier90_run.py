"""Wannier90 itself (Debian's wannier90.x, installed by ./run setup) on a tiny model whose
second Wannier centre sits off the lattice points, with use_ws_distance = true: hpcorb's
[model] wannier90 = seedname (reading _hr.dat + _wsvec.dat + .win) reproduces Wannier90's
own interpolated bands (seedname_band.dat) to 1e-6 eV, and the plain Fourier sum of the
_hr.dat alone does not.

The Wannier90 inputs are made from a two-site tight-binding model with point-like orbitals:
Bloch states psi_nk = sum_a C_an(k) sum_R e^{ik.(R + tau_a)} phi_a(r - R - tau_a), so
A_mn(k) = <psi_mk|phi_n> = conj(C_nm(k)) e^{-ik.tau_n} and
M_mn(k, b) = <u_mk|u_nk+b> = sum_a conj(C_am(k)) e^{-iG.tau_a} C_an(k_nn) for k + b = k_nn + G.
With num_bands = num_wann and num_iter = 0 the Wannier functions are the orbitals themselves
(centres tau, spreads 0, as Wannier90 reports).
"""
import itertools
import shutil
import subprocess

import numpy as np
import pytest

from hpcorb.io.wannier90 import read_hr
from hpcorb.io.win import read_win
from hpcorb.models.build import build_model
from hpcorb.models.tbmodel import TBModel
from test_w90_seedname import _w90_band_path

pytestmark = pytest.mark.skipif(shutil.which("wannier90.x") is None,
                                reason="wannier90.x not installed (./run setup installs Debian's wannier90)")

LATTICE = np.array([[3.0, 0, 0], [0.4, 2.8, 0], [0, 0.3, 3.3]])
TAU_B = np.array([0.45, 0.35, 0.6])


def _model():
    rng = np.random.default_rng(11)
    R = np.array(list(itertools.product((-1, 0, 1), repeat=3)))
    idx = {tuple(r): i for i, r in enumerate(R)}
    H = np.zeros((len(R), 2, 2), complex)
    for i, r in enumerate(R):
        j = idx[tuple(-r)]
        if j < i:
            continue
        # 6 decimals: exactly what _hr.dat prints, so the file carries no rounding
        h = np.round((rng.normal(size=(2, 2)) + 1j * rng.normal(size=(2, 2))) * 0.3 / (1 + abs(r).sum()), 6)
        if i == j:
            h = np.round(h + h.conj().T, 6)
        H[i] = h
        H[j] = h.conj().T
    return TBModel(lattice=LATTICE, R=R, H=H, positions=np.array([[0.0, 0, 0], TAU_B @ LATTICE]))


def _win(kpts):
    cell = "\n".join(" ".join(f"{x:.10f}" for x in v) for v in LATTICE)
    ks = "\n".join(" ".join(f"{x:.10f}" for x in k) for k in kpts)
    return f"""num_bands = 2
num_wann = 2
num_iter = 0
use_ws_distance = true
write_hr = true
write_xyz = true
bands_plot = true
bands_num_points = 20
begin kpoint_path
G 0 0 0 X 0.5 0 0
X 0.5 0 0 M 0.5 0.5 0.3
M 0.5 0.5 0.3 G 0 0 0
end kpoint_path
begin unit_cell_cart
ang
{cell}
end unit_cell_cart
begin atoms_frac
A 0 0 0
B {TAU_B[0]} {TAU_B[1]} {TAU_B[2]}
end atoms_frac
begin projections
A: s
B: s
end projections
mp_grid = 3 3 3
begin kpoints
{ks}
end kpoints
"""


def test_ws_shifts_reproduce_wannier90s_own_bands(tmp_path):
    m = _model()
    kpts = np.array(list(itertools.product(*[np.arange(3) / 3] * 3)))
    (tmp_path / "tiny.win").write_text(_win(kpts))
    r = subprocess.run(["wannier90.x", "-pp", "tiny"], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    lines = (tmp_path / "tiny.nnkp").read_text().splitlines()
    i = lines.index("begin nnkpts")
    nntot = int(lines[i + 1])
    nn = [list(map(int, ln.split())) for ln in lines[i + 2:i + 2 + nntot * len(kpts)]]
    E, C = np.linalg.eigh(m.hk(kpts))
    kc = m.kcart(kpts)
    with open(tmp_path / "tiny.eig", "w") as f:
        for ik in range(len(kpts)):
            for n in range(2):
                f.write(f"{n + 1:5d}{ik + 1:5d}{E[ik, n]:18.12f}\n")
    with open(tmp_path / "tiny.amn", "w") as f:
        f.write(f"point orbitals\n    2 {len(kpts):4d}    2\n")
        for ik in range(len(kpts)):
            for n in range(2):
                for mb in range(2):
                    a = np.conj(C[ik, n, mb]) * np.exp(-1j * kc[ik] @ m.positions[n])
                    f.write(f"{mb + 1:5d}{n + 1:5d}{ik + 1:5d}{a.real:18.12f}{a.imag:18.12f}\n")
    with open(tmp_path / "tiny.mmn", "w") as f:
        f.write(f"point orbitals\n    2 {len(kpts):4d} {nntot:4d}\n")
        for k1, k2, g1, g2, g3 in nn:
            G = np.array([g1, g2, g3]) @ m.reciprocal
            M = C[k1 - 1].conj().T @ (np.exp(-1j * G @ m.positions.T)[:, None] * C[k2 - 1])
            f.write(f"{k1:5d}{k2:5d}{g1:5d}{g2:5d}{g3:5d}\n")
            for n in range(2):
                for mb in range(2):
                    f.write(f"{M[mb, n].real:18.12f}{M[mb, n].imag:18.12f}\n")
    r = subprocess.run(["wannier90.x", "tiny"], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "tiny_wsvec.dat").is_file()

    back = build_model({"wannier90": str(tmp_path / "tiny")})
    assert "applied" in back.meta["ws_distance"]
    assert back.meta["max_centre_offset_A"] < 1e-5            # Wannier90 found the centres at tau
    k = _w90_band_path(read_win(str(tmp_path / "tiny.win")), back.reciprocal)
    kfile = np.loadtxt(tmp_path / "tiny_band.kpt", skiprows=1)[:, :3]
    assert k.shape == kfile.shape and np.abs(k - kfile).max() < 1e-6
    E_w90 = np.loadtxt(tmp_path / "tiny_band.dat")[:, 1].reshape(2, -1).T
    err = np.abs(np.linalg.eigvalsh(back.hk(k)) - E_w90).max()
    assert err < 1e-6, err                                      # band.dat prints 8 digits
    R, H = read_hr(str(tmp_path / "tiny_hr.dat"))
    plain = np.linalg.eigvalsh(np.einsum("kr,rij->kij", np.exp(2j * np.pi * k @ R.T), H))
    assert np.abs(plain - E_w90).max() > 1e-2                  # the shifts matter here
