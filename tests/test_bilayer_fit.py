"""Fitting measured torque vs thickness ([bilayer.fit], paper 001 model).

The synthetic data set inputs/data/bilayer_fit_synthetic.csv is made by
:func:`generate` (run ``python3 tests/test_bilayer_fit.py`` to rewrite it):
OHE-driven damping-like torque vs d_F from known parameters (TRUE) plus
Gaussian noise of the stated uncertainty, fixed seed.
"""
import os

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CSV = os.path.join(REPO, "inputs", "data", "bilayer_fit_synthetic.csv")
DECK = os.path.join(REPO, "inputs", "bilayer_fit_synthetic.toml")

# generating parameters: paper 001 Fig. 3(b) set-up with lambda_o_F and P_os to be recovered
FIXED = dict(d_N=5.0, d_F=5.0, lambda_s_N=3.0, lambda_o_N=5.0, lambda_o_F=5.0, lambda_sf=3.0,
             lambda_phi=1.0, lambda_J=0.5, sigma_s_N=1e6, sigma_o_N=1e6, sigma_s_F=1e6, sigma_o_F=1e6,
             sigma_SHE=0.0, sigma_OHE=1e5, E=1e4, P_os=0.5, P_so=0.5, G_s=1e15, G_o=1e15,
             G_os=0.0, G_so=0.0)
TRUE = {"lambda_o_F": 6.0, "P_os": 0.4}
SIGMA = 2.0e5          # A/m^2, about 2-3 % of the torque
THICK = np.linspace(0.5, 15.0, 24)


def generate(seed=20241212):
    from hpcorb.kernels import driftdiffusion as dd
    p = dict(FIXED, **TRUE)
    p["d_F"] = THICK
    clean = dd.torque(p, "conductance").real
    rng = np.random.default_rng(seed)
    return THICK, clean + SIGMA * rng.standard_normal(THICK.size), np.full(THICK.size, SIGMA)


def write_csv(path=CSV):
    t, y, u = generate()
    with open(path, "w") as f:
        f.write("# synthetic damping-like torque vs d_F, made by tests/test_bilayer_fit.py:generate()\n")
        f.write(f"# true parameters: {TRUE}; noise sigma {SIGMA:g} A/m^2; the rest as in inputs/bilayer_fit_synthetic.toml\n")
        f.write("thickness,torque,uncertainty\n")
        for a, b, c in zip(t, y, u):
            f.write(f"{a:.6f},{b:.10e},{c:.6e}\n")


def test_shipped_csv_is_the_generator_output():
    from hpcorb.calculations.bilayer import read_torque_csv
    t, y, u = read_torque_csv(CSV)
    t0, y0, u0 = generate()
    assert np.allclose(t, t0) and np.allclose(y, y0, rtol=1e-9) and np.allclose(u, u0)


def test_fit_recovers_generating_parameters():
    from hpcorb.calculations import bilayer
    from hpcorb.config import load_deck
    deck = load_deck(DECK)
    p = deck["bilayer"]
    # the deck starts away from the truth
    assert abs(p["lambda_o_F"] - TRUE["lambda_o_F"]) > 1.0 and abs(p["P_os"] - TRUE["P_os"]) > 0.1
    fr = bilayer.fit_model(p, bilayer.params_of(p))
    for n, v, e in zip(fr["names"], fr["values"], fr["errors"]):
        assert e > 0 and np.isfinite(e)
        assert abs(v - TRUE[n]) < 3 * e, (n, v, e)      # within the reported 3-sigma
        assert e < 0.1 * abs(TRUE[n])                    # and the uncertainty is meaningful
    assert 0.4 < fr["chi2_red"] < 2.0                   # noise was drawn with the stated sigma
    assert fr["corr"].shape == (2, 2) and abs(fr["corr"][0, 0] - 1) < 1e-12


def test_fit_uncertainty_is_calibrated():
    """Over independent noise draws the fitted lambda_o_F scatters by about the
    reported uncertainty (the uncertainties are neither much too small nor too large)."""
    from hpcorb.calculations import bilayer
    from hpcorb.config import load_deck
    import tempfile
    deck = load_deck(DECK)
    p = dict(deck["bilayer"])
    vals, errs = [], []
    with tempfile.TemporaryDirectory() as d:
        for seed in range(12):
            t, y, u = generate(seed)
            path = os.path.join(d, f"s{seed}.csv")
            np.savetxt(path, np.column_stack([t, y, u]), delimiter=",", header="thickness,torque,uncertainty",
                       comments="")
            q = dict(p, fit=dict(p["fit"], data=path))
            fr = bilayer.fit_model(q, bilayer.params_of(q))
            vals.append(fr["values"])
            errs.append(fr["errors"])
    vals, errs = np.array(vals), np.array(errs)
    pulls = (vals - np.array([TRUE[n] for n in fr["names"]])) / errs
    rms = np.sqrt(np.mean(pulls ** 2, axis=0))
    assert np.all(rms > 0.4) and np.all(rms < 1.8), rms


if __name__ == "__main__":
    import sys
    sys.path.insert(0, REPO)
    write_csv()
    print("wrote", CSV)
