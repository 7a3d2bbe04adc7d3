"""Report of a bilayer result: summary text, profiles, sweeps and fit figures."""
from __future__ import annotations

import numpy as np

from ..api.bilayer import _KEYS, G0
from ..plot import plt, save_figure
from ..result import as_result


def _c(v):
    v = complex(v)
    return f"{v.real:.6g} {v.imag:+.6g}i"


def _s(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def summary(result) -> str:
    g = as_result(result)
    a = g.attrs
    lines = [f"N/F bilayer (paper 001), boundary {_s(a.get('boundary', '?'))}: "
             f"alpha = {float(a['alpha_per_nm']):.5g} /nm, beta = {float(a['beta_per_nm']):.5g} /nm",
             f"  torque J_s^N(0) = {_c(g['torque'][()])} A/m^2 (damping-like + i field-like)"]
    if "analytic" in g:
        an = g["analytic"]
        lines.append(f"  closed forms here: Eq.13+16 {_c(an['tau_eq13'][()])} A/m^2, "
                     f"Eq.14+17 {_c(an['tau_eq14_eq17'][()])} A/m^2, G_mix Eq.19 {_c(an['G_mix_eq19'][()])}")
    if "conductance" in g:
        c = g["conductance"]
        lines.append(f"  mixing conductances (exact, Ohm^-1 m^-2): G_mix {_c(c['G_mix'][()])}, "
                     f"G_os^m {_c(c['G_os_m'][()])}, G_so^m {_c(c['G_so_m'][()])}")
    if "pumping" in g:
        pm = g["pumping"]
        lines.append(f"  pumping coefficients (A s m^-2): spin {_c(pm['spin'][()])}, orbital {_c(pm['orbital'][()])}")
    if "sweep" in g:
        s = g["sweep"]
        n1, n2 = _s(s.attrs["parameter"]), _s(s.attrs["parameter2"])
        t = s["torque"][...]
        x1 = s[n1][...]
        lines.append(f"  sweep over {n1}" + (f" x {n2}" if n2 != "none" else "") + f": {t.size} points")
        if t.ndim == 1:
            idx = np.unique(np.linspace(0, len(x1) - 1, min(8, len(x1))).astype(int))
            lines.append(f"    {n1:>12}  {'Re torque':>13}  {'Im torque':>13}")
            for i in idx:
                lines.append(f"    {x1[i]:12.5g}  {t[i].real:13.6g}  {t[i].imag:13.6g}")
        else:
            x2 = s[n2][...]
            i, j = np.unravel_index(np.argmax(np.abs(t.real)), t.shape)
            lines.append(f"    largest |Re torque| {t[i, j].real:.6g} A/m^2 at {n1} = {x1[i]:g}, {n2} = {x2[j]:g}")
    if "fit" in g:
        f = g["fit"]
        names = [_s(x) for x in f["parameters"][...]]
        vals, errs, corr = f["values"][...], f["uncertainties"][...], f["correlation"][...]
        lines.append(f"  fit to {len(f['thickness'])} points ({_s(f.attrs['component'])}-like torque vs "
                     f"{_s(f.attrs['thickness'])}): chi2/dof = {float(f['chi2_reduced'][()]):.4g}")
        for n, v, e in zip(names, vals, errs):
            lines.append(f"    {n:>12} = {v:.6g} +- {e:.3g}")
        if len(names) > 1:
            lines.append("    correlations: " + "; ".join(
                f"{names[i]}/{names[j]} {corr[i, j]:+.3f}" for i in range(len(names)) for j in range(i + 1, len(names))))
    return "\n".join(lines)


def plot(result, stem):
    g = as_result(result)
    files = []
    z = g["z"][...]
    fig, ax = plt.subplots(2, 2, figsize=(8, 6), sharex=True)
    panels = [("J_s", "$J_s$", 1.0, "spin current (A/m$^2$)"), ("J_o", "$J_o$", 1.0, "orbital current (A/m$^2$)"),
              ("mu_s", r"$G_0\mu_s$", G0, r"$G_0\mu_s$ (A/m$^2$)"), ("mu_o", r"$G_0\mu_o$", G0, r"$G_0\mu_o$ (A/m$^2$)")]
    for a, (key, lab, sc, ylab) in zip(ax.ravel(), panels):
        v = g[key][...] * sc
        a.plot(z, v.real, "C0-", label=lab + "$^R$")
        a.plot(z, v.imag, "C3--", label=lab + "$^I$")
        a.axvline(0.0, color="k", lw=0.6)
        a.set_ylabel(ylab)
        a.legend(fontsize=7)
    for a in ax[1]:
        a.set_xlabel("z (nm)")
    fig.suptitle("profiles (paper 001 Fig. 2 style): N at z < 0, F at z > 0")
    files.append(save_figure(fig, stem, "_profiles.png"))
    if "sweep" in g:
        s = g["sweep"]
        n1, n2 = _s(s.attrs["parameter"]), _s(s.attrs["parameter2"])
        x1, t = s[n1][...], s["torque"][...]
        logx = _s(s.attrs["scale"]) == "log"
        fig, ax = plt.subplots(1, 2, figsize=(9, 3.6))
        if t.ndim == 1:
            ax[0].plot(x1, t.real, "C0-o", ms=2)
            ax[1].plot(x1, t.imag, "C3-o", ms=2)
        else:
            x2 = s[n2][...]
            for j in range(len(x2)):
                ax[0].plot(x1, t[:, j].real, "-", color=f"C{j % 10}", label=f"{n2} = {x2[j]:g}")
                ax[1].plot(x1, t[:, j].imag, "--", color=f"C{j % 10}", label=f"{n2} = {x2[j]:g}")
            ax[0].legend(fontsize=7)
        ax[0].set_ylabel("damping-like torque Re J$_s^N$(0) (A/m$^2$)")
        ax[1].set_ylabel("field-like torque Im J$_s^N$(0) (A/m$^2$)")
        for a in ax:
            a.set_xlabel(f"{n1} ({_KEYS[n1].units or '1'})")
            if logx:
                a.set_xscale("log")
        fig.suptitle("torque vs " + n1 + " (paper 001 Fig. 3 style)")
        files.append(save_figure(fig, stem, "_sweep.png"))
        if "G_mix" in s and t.ndim == 1:
            fig, ax = plt.subplots(1, 2, figsize=(9, 3.6))
            for a, key, paper, lab in ((ax[0], "G_mix", "G_mix_eq19", r"$G_{\uparrow\downarrow}$"),
                                       (ax[1], "G_os_m", "G_os_m_eq21", r"$G_{os}^m$")):
                v, w = s[key][...], s[paper][...]
                a.plot(x1, v.real, "C0-", label=lab + " real (exact)")
                a.plot(x1, v.imag, "C3-", label=lab + " imag (exact)")
                a.plot(x1, w.real, "C0:", label=f"real ({paper.split('_')[-1]} as printed)")
                a.plot(x1, w.imag, "C3:", label=f"imag ({paper.split('_')[-1]} as printed)")
                a.set_xlabel(f"{n1} ({_KEYS[n1].units or '1'})")
                a.set_ylabel(lab + r" ($\Omega^{-1}$m$^{-2}$)")
                a.legend(fontsize=7)
                if logx:
                    a.set_xscale("log")
            fig.suptitle("mixing conductances vs " + n1 + " (paper 001 Fig. 4 style)")
            files.append(save_figure(fig, stem, "_mixing.png"))
    if "fit" in g:
        f = g["fit"]
        fig, ax = plt.subplots(figsize=(5, 3.6))
        ax.errorbar(f["thickness"][...], f["torque_data"][...], yerr=f["uncertainty_data"][...], fmt="ko",
                    ms=3, label="data")
        ax.plot(f["curve_thickness"][...], f["curve_torque"][...], "C0-", label="best fit")
        ax.set_xlabel(f"{_s(f.attrs['thickness'])} (nm)")
        ax.set_ylabel(f"{_s(f.attrs['component'])}-like torque (A/m$^2$)")
        ax.legend(fontsize=8)
        files.append(save_figure(fig, stem, "_fit.png"))
    return files
