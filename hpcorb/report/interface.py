"""Report of an interface result: summary text, profiles, limits and sweep figures."""
from __future__ import annotations

import numpy as np

from ..api.interface import INC_ORDER
from ..kernels import scattering as sc
from ..plot import plt, save_figure
from ..result import as_result


def _s(x):
    return x.decode() if isinstance(x, bytes) else str(x)


def _incident(g):
    inc = g.attrs.get("incident", INC_ORDER)
    return [_s(s) for s in np.atleast_1d(inc)]


def summary(result) -> str:
    g = as_result(result)
    inc = _incident(g)
    lines = [f"interface: U = {g.attrs['U']:g} E_F, r = {g.attrs['r']:g} hbar^2/2m, "
             f"alpha = {g.attrs['alpha']:g} hbar^2/2m; k_t = {g['k_t'][()]:.6f}, "
             f"k_r = {g['k_r'][()]:.6f} k_F",
             f"quadrature: {int(g['quadrature/n_kappa'][()])} kappa x {int(g['quadrature/n_phi'][()])} phi; "
             f"achieved accuracy profiles {g['quadrature/profile_error'][()]:.1e}, "
             f"limits {g['quadrature/limit_error'][()]:.1e}; flux conservation "
             f"{g['quadrature/flux_error'][()]:.1e}", ""]
    lines.append("incident | <L_j>(0)  <L_j>(inf) | J_L(0-)  J_R(0+)  J(inf) [hbar^2 k_F/m] | "
                 "X [hbar^2 k_F^2/m] | omega_dot [rad/s^2]")
    for i, s in enumerate(inc):
        j = INC_ORDER.index(s)
        lines.append(f"  L_{s}    | {g['limits/dipole_0'][i, j]:8.5f} {g['limits/dipole_inf'][i, j]:8.5f} | "
                     f"{g['limits/current_left_0'][i, j]:8.5f} {g['limits/current_0'][i, j]:8.5f} "
                     f"{g['limits/current_inf'][i, j]:8.5f} | {g['torque_integral'][i]:9.5f} | "
                     f"{g['angular_acceleration'][i]:9.1f}")
    lines.append("")
    lines.append("quadrupoles (xy, yz, zx, x2-y2, z2) at z = 0 and z -> inf; efficiency eta:")
    for i, s in enumerate(inc):
        q0 = " ".join(f"{v:8.5f}" for v in g["limits/quadrupole_0"][i])
        qi = " ".join(f"{v:8.5f}" for v in g["limits/quadrupole_inf"][i])
        et = " ".join(f"{v:8.5f}" for v in g["efficiency"][i])
        lines.append(f"  L_{s}  0: {q0}\n        inf: {qi}\n        eta: {et}")
    tr = g["transparency"][()]
    for t, row in zip(tr, g["memory_loss"][()]):
        lines.append(f"memory loss delta (rho_R l_R/AR_I = {t:g}): " +
                     ", ".join(f"L_{s}: {d:.5f}" for s, d in zip(inc, row)))
    if "sweep" in g:
        sw = g["sweep"]
        name = _s(sw.attrs.get("parameter", "?"))
        lines.append("")
        lines.append(f"sweep over {name}: {name:>6} | X per incident | omega_dot per incident")
        for k, v in enumerate(sw["values"][()]):
            X = " ".join(f"{x:9.5f}" for x in sw["torque_integral"][k])
            A = " ".join(f"{x:9.1f}" for x in sw["angular_acceleration"][k])
            lines.append(f"  {v:10.4g} | {X} | {A}")
    return "\n".join(lines)


def plot(result, stem) -> list:
    g = as_result(result)
    inc = _incident(g)
    z = g["z"][()]
    dip, quad = g["dipole"][()], g["quadrupole"][()]
    tor = g["torque"][()]
    files = []
    colors = ("C0", "C3", "C2", "C1", "C4")
    # Fig. 1: dipoles and quadrupoles for each incident state
    fig, ax = plt.subplots(2, len(inc), figsize=(4 * len(inc), 6), squeeze=False)
    for i, s in enumerate(inc):
        for c in range(3):
            ax[0, i].plot(z, dip[i, c], color=colors[c], label=f"<L_{'xyz'[c]}^{s}>")
        for c, qn in enumerate(sc.QUAD_NAMES):
            ax[1, i].plot(z, quad[i, c], color=colors[c], label=f"<L_{qn}^{s}>")
        ax[0, i].set_title(f"incident |L_{s}>")
        ax[1, i].set_xlabel("k_F z")
        for a in ax[:, i]:
            a.legend(fontsize=7)
            a.axhline(0, color="k", lw=0.5)
    ax[0, 0].set_ylabel("dipole (hbar)")
    ax[1, 0].set_ylabel("quadrupole (hbar^2)")
    fig.tight_layout()
    files.append(save_figure(fig, stem, "_profiles.png", dpi=110))
    # Fig. 4: torque
    fig, ax = plt.subplots(1, len(inc), figsize=(4 * len(inc), 3.2), squeeze=False)
    for i, s in enumerate(inc):
        j = INC_ORDER.index(s)
        ax[0, i].plot(z, tor[i, j], color="C0")
        ax[0, i].set_title(f"tau_{s} for |L_{s}>, X = {g['torque_integral'][i]:.4f}")
        ax[0, i].set_xlabel("k_F z")
    ax[0, 0].set_ylabel("torque (hbar^2 k_F^2/m)")
    fig.tight_layout()
    files.append(save_figure(fig, stem, "_torque.png", dpi=110))
    if "sweep" in g:
        files += _plot_sweep(g, inc, stem, plt)
    return files


def _plot_sweep(g, inc, stem, plt):
    sw = g["sweep"]
    name = _s(sw.attrs.get("parameter", "?"))
    x = sw["values"][()]
    files = []
    fig, ax = plt.subplots(2, 3, figsize=(13, 7))
    for i, s in enumerate(inc):
        j = INC_ORDER.index(s)
        ax[0, 0].plot(x, sw["dipole_0"][:, i, j], "o-", ms=3, label=f"<L_{s}^{s}>(0)")
        ax[0, 1].plot(x, sw["dipole_inf"][:, i, j], "o-", ms=3, label=f"<L_{s}^{s}>(inf)")
        ax[1, 0].plot(x, sw["angular_acceleration"][:, i], "o-", ms=3, label=f"|L_{s}>")
        for c, qn in enumerate(sc.QUAD_NAMES):
            e = sw["efficiency"][:, i, c]
            if np.max(np.abs(e)) > 1e-10:
                ax[1, 1].plot(x, e, "o-", ms=3, label=f"eta_{qn}^{s}")
            q = sw["quadrupole_inf"][:, i, c]
            if np.max(np.abs(q)) > 1e-10:
                ax[0, 1].plot(x, q, "s--", ms=3, label=f"<L_{qn}^{s}>(inf)")
            q0 = sw["quadrupole_0"][:, i, c]
            if np.max(np.abs(q0)) > 1e-10:
                ax[0, 0].plot(x, q0, "s--", ms=3, label=f"<L_{qn}^{s}>(0)")
        for t in range(sw["memory_loss"].shape[1]):
            ax[1, 2].plot(x, sw["memory_loss"][:, t, i], "o-", ms=3,
                          label=f"|L_{s}>, rho l/AR = {g['transparency'][t]:g}")
    ax[0, 2].plot(x, sw["wavelength"][()], "o-", ms=3, label="2 pi/(k_r - k_t)")
    titles = ["z = 0", "z -> inf", "oscillation wavelength (1/k_F)", "angular acceleration (rad/s^2)",
              "conversion efficiency eta", "memory loss delta"]
    for a, t in zip(ax.ravel(), titles):
        a.set_title(t, fontsize=9)
        a.set_xlabel(name)
        a.legend(fontsize=6)
    fig.tight_layout()
    files.append(save_figure(fig, stem, "_sweep.png", dpi=110))
    if bool(sw.attrs.get("profiles", False)) and "dipole" in sw:
        z = g["z"][()]
        fig, ax = plt.subplots(3, len(inc), figsize=(4 * len(inc), 8), squeeze=False)
        for i, s in enumerate(inc):
            j = INC_ORDER.index(s)
            for k, v in enumerate(x):
                ax[0, i].plot(z, sw["dipole"][k, i, j], label=f"{name} = {v:g}")
                ax[1, i].plot(z, sw["quadrupole"][k, i, 1 if s == "x" else (2 if s == "y" else 4)],
                              label=f"{name} = {v:g}")
                ax[2, i].plot(z, sw["torque"][k, i, j], label=f"{name} = {v:g}")
            ax[0, i].set_title(f"<L_{s}^{s}>")
            ax[1, i].set_title({"x": "<L_yz^x>", "y": "<L_zx^y>", "z": "<L_z2^z>"}[s])
            ax[2, i].set_title(f"tau_{s} (hbar^2 k_F^2/m)")
            ax[2, i].set_xlabel("k_F z")
            for a in ax[:, i]:
                a.legend(fontsize=6)
        fig.tight_layout()
        files.append(save_figure(fig, stem, "_sweep_profiles.png", dpi=110))
    return files
