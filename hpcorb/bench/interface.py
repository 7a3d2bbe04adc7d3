"""``./run bench interface``: cost of converged interface quadratures (paper 002).

1. Fig. 1 profiles (U = 0.5, r = 0.5, alpha = 0, three incident states,
   z = 0 ... 30/k_F, 601 points) converged to 1e-8 with the automatic
   threshold-split Gauss-Legendre rule: wall time, points, the reported
   accuracy and the true error against a much finer reference rule.
2. Torque integral X = J(inf) - J(0+) (analytic limits) converged to 1e-10
   for r = 0.5, 1.5, 10: wall time, points, true error.
3. For contrast, a plain Gauss-Legendre rule on [0, k_F] in kappa (no split
   at the thresholds k_t, k_r, no change of variables) for the torque
   integral: error at the same and at 10x / 40x more points.
Every time is the median of ``--repeat`` runs (default 3).
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from ..calculations import interface as calc
from ..kernels import scattering as sc
from ..parallel import SerialComm


def _timed(f, repeat):
    ts, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = f()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts), out


def _X(o):
    lim = calc._limit_arrays(o)
    d = lim["current_inf"] - lim["current_0"]
    return np.diag(d)


def main(argv, comm) -> int:
    ap = argparse.ArgumentParser(prog="./run bench interface")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    comm = comm or SerialComm()
    say = (lambda *m: print(*m, flush=True)) if comm.rank == 0 else (lambda *m: None)
    chi = sc.incident_matrix()
    U = 0.5

    # 1. Fig. 1 profiles to 1e-8
    z = np.linspace(0.0, 30.0, 601)

    def fig1():
        return calc.converge(U, 0.5, 0.0, chi, z, tol=1e-8, ltol=1e-10, max_points=4096,
                             with_profiles=True, comm=comm)
    t1, (o1, info1) = _timed(fig1, args.repeat)
    k, w = sc.kappa_rule(U, 0.5, 4 * info1["n_per_interval"])
    ref = sc.fermi_profiles(k, w, U, 0.5, 0.0, chi, z)
    err1 = max(float(np.abs(o1[n] - ref[n]).max()) for n in ("dens", "cur", "tor"))
    say(f"interface bench on {comm.size} rank(s)")
    say(f"1. Fig. 1 profiles (3 incident x 8 densities + currents + torques, {z.size} z points) to 1e-8:")
    say(f"   time {t1:.3f} s (median of {args.repeat}), final rule {info1['n_kappa']} kappa x "
        f"{info1['n_phi']} phi points, reported accuracy {info1['profile_error']:.1e}, "
        f"true error vs a 4x finer rule {err1:.1e}")

    # 1b. a long window: the rule grows with z_max (oscillations exp(i (k_r - k_t) z))
    zl = np.linspace(0.0, 300.0, 3001)

    def longwin():
        return calc.converge(U, 0.5, 0.0, chi, zl, tol=1e-8, ltol=1e-10, max_points=4096,
                             with_profiles=True, comm=comm)
    tl, (ol, infol) = _timed(longwin, 1)
    say(f"   same to 1e-8 on a long window z = 0 ... 300/k_F (3001 points): time {tl:.3f} s, "
        f"{infol['n_kappa']} kappa points, reported accuracy {infol['profile_error']:.1e}")

    # 2. torque integral to 1e-10
    say("2. torque integral X = J(inf) - J(0+) to 1e-10 (analytic limits, no z window):")
    for r in (0.5, 1.5, 10.0):
        def lim():
            return calc.converge(U, r, 0.0, chi, np.zeros(0), tol=1e-10, ltol=1e-10,
                                 max_points=4096, with_profiles=False)
        t2, (o2, info2) = _timed(lim, args.repeat)
        X = _X(o2)                       # output units hbar^2 k_F^2/m
        k, w = sc.kappa_rule(U, r, 8 * info2["n_per_interval"])
        oref = sc.fermi_limits(k, w, U, r, 0.0, chi)
        Xref = np.diag(oref["curinf"][:, :3] - oref["cur0"][:, :3]) / 2
        err = float(np.abs(X - Xref).max())
        say(f"   r = {r:4g}: time {t2 * 1e3:7.1f} ms, {info2['n_kappa']:4d} kappa x {info2['n_phi']} phi, "
            f"reported {info2['limit_error']:.1e}, true error {err:.1e}, X = "
            + ", ".join(f"{x:.10f}" for x in X))

        # 3. contrast: plain Gauss-Legendre in kappa on [0, 1]
        if r == 0.5:
            naive = []
            for n in (info2["n_kappa"], 10 * info2["n_kappa"], 40 * info2["n_kappa"]):
                x, ww = np.polynomial.legendre.leggauss(n)
                kap = 0.5 * (x + 1)
                wk = 2 * kap * 0.5 * ww
                t = time.perf_counter()
                on = sc.fermi_limits(kap, wk, U, r, 0.0, chi)
                tn = time.perf_counter() - t
                Xn = np.diag(on["curinf"][:, :3] - on["cur0"][:, :3]) / 2
                naive.append((n, float(np.abs(Xn - Xref).max()), tn))
            say("3. contrast at r = 0.5, plain Gauss-Legendre on [0, k_F] (no threshold split):")
            for n, e, tn in naive:
                say(f"   {n:6d} kappa points: error {e:.1e} ({tn * 1e3:.1f} ms)")
    return 0
