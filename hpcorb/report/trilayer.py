"""Report of a trilayer result: summary text, currents, angle map, mu scan and RKKY figures."""
from __future__ import annotations

import numpy as np

from ..plot import plt, save_figure
from ..result import as_result


def summary(result) -> str:
    g = as_result(result)
    a = g.attrs
    lines = [f"trilayer ({a.get('normal_metal', '?')}), solver {a.get('solver', '?')}, "
             f"bond scale {a.get('bond_scale', '?')}, interface bond {a.get('interface_bond', '?')}"]
    F = g["free_energy"]
    lines.append(f"free energy F = {float(F[()]):.10g} t  (per row {float(g.dataset_attrs('free_energy')['per_row']):.10g})")
    j = g["current_eq7"][...]
    lines.append("Eq. 7 current, max |j| over x per component: " +
                 ", ".join(f"{c} {np.abs(j[:, i]).max():.3e}" for i, c in enumerate("xyz")))
    lines.append(f"bond-form identity residual: {np.abs(g['continuity_residual_bond'][...]).max():.2e}")
    if "rkky" in g:
        lines.append("RKKY J per row: " + ", ".join(
            f"{int(n)}: {J:+.3e}" for n, J in zip(g["rkky/n_x"][...], g["rkky/J"][...])))
    if "angles" in g:
        lines.append(f"angle map minimum direction: {g['angles'].attrs.get('minimum_direction')}")
    if "mu_scan" in g:
        pref = g["mu_scan/preferred"][...]
        lines.append("preferred axis vs mu: " + ", ".join(
            f"{m:+.2f}:{'xyz-'[int(k)]}" for m, k in zip(g["mu_scan/mu"][...], pref)))
    return "\n".join(lines)


def plot(result, stem) -> list:
    g = as_result(result)
    out = []
    x = g["x"][...]
    fig, axs = plt.subplots(1, 3, figsize=(10, 3))
    for i, c in enumerate("xyz"):
        axs[i].plot(x, g["current_eq7"][:, i], "o-", ms=3, label="Eq. 7 current")
        axs[i].plot(x, g["bond_current_x"][:, i], "s--", ms=3, label="bond current")
        axs[i].set_title(f"$j^L_{c}$")
        axs[i].set_xlabel("x")
    axs[0].legend()
    out.append(save_figure(fig, stem, "_currents.png"))
    if "angles" in g:
        th, ph, F = g["angles/theta"][...], g["angles/phi"][...], g["angles/F"][...]
        fig, ax = plt.subplots(figsize=(5, 3.5))
        Fn = (F - F.min()) / max(F.max() - F.min(), 1e-300)
        im = ax.pcolormesh(ph, th, Fn, shading="auto")
        fig.colorbar(im, label="normalized F")
        ax.set_xlabel("phi"); ax.set_ylabel("theta")
        out.append(save_figure(fig, stem, "_angles.png"))
    if "mu_scan" in g:
        mu, F = g["mu_scan/mu"][...], g["mu_scan/F_per_row"][...]
        fig, ax = plt.subplots(figsize=(5, 3.5))
        Fn = F - F.min(axis=1, keepdims=True)
        for i, c in enumerate("xyz"):
            ax.plot(mu, Fn[:, i], label=f"m || {c}")
        ax.set_xlabel("mu"); ax.set_ylabel("F - min F (per row)"); ax.legend()
        out.append(save_figure(fig, stem, "_mu_scan.png"))
    if "rkky" in g:
        fig, ax = plt.subplots(figsize=(5, 3.5))
        ax.plot(g["rkky/n_x"][...], g["rkky/J"][...], "o-")
        ax.set_xlabel("N_x"); ax.set_ylabel("J (per row)")
        out.append(save_figure(fig, stem, "_rkky.png"))
    return out
