"""Output contract of `trilayer`: datasets, shapes and convention attributes in the HDF5 file."""
import numpy as np

from hpcorb.calculations import trilayer as tc
from hpcorb.config import deck_from_dict
from hpcorb.io.results import write_results
from hpcorb.log import NullLogger
from hpcorb.parallel import SerialComm


def test_results_file_contract(tmp_path):
    import h5py
    comm = SerialComm()
    nx, ny = 8, 4
    deck = deck_from_dict({"calculation": {"type": "trilayer"},
                           "trilayer": dict(nx=nx, ny=ny, gamma=0.5, mu=-0.3, temperature=0.05,
                                            m_left=[1.0, 0, 0], m_right=[0, 1.0, 0], solver="dense",
                                            rkky={"nx": [5, 6, 7]},
                                            angles={"ntheta": 3, "nphi": 4, "magnet": "right"},
                                            mu_scan={"mu": [-0.3, -1.0]})})
    res = tc.run(deck, comm, NullLogger(), None)
    out = str(tmp_path / "t.h5")
    write_results(out, res, comm, NullLogger())
    with h5py.File(out, "r") as h5:
        g = h5["trilayer"]
        assert g["x"].shape == (nx,)
        for name in ("density", "bond_current_x", "bond_torque_x", "bond_torque_y", "exchange_torque",
                     "current_eq7", "torque_eq10"):
            assert g[name].shape == (nx, 3), name
            assert "units" in g[name].attrs and g[name].attrs["description"]
        F = g["free_energy"]
        assert F.shape == () and np.isclose(F.attrs["per_row"], F[()] / ny)
        assert g["rkky/n_x"].shape == (3,) and g["rkky/J"].shape == (3,)
        assert g["angles/theta"].shape == (3,) and g["angles/phi"].shape == (4,)
        assert g["angles/F"].shape == (3, 4)
        assert g["site/density"].shape == (nx, ny, 3)
        # per-site arrays average to the column arrays
        assert np.allclose(g["site/current_eq7"][...].mean(axis=1), g["current_eq7"][...], atol=1e-15)
        a = g.attrs
        assert a["bond_scale"] == 0.5 and a["interface_bond"] == "nm" and a["solver"] == "dense"
        assert "Eq. 2" in a["L_matrices"]
        # an angle-map point (theta = pi/2, phi = 2 pi/3) equals an independent dense F
        th, ph = g["angles/theta"][...], g["angles/phi"][...]
        assert np.isclose(th[1], np.pi / 2)
        k = int(np.argmin(np.abs(ph - 2 * np.pi / 3)))
        m = [np.cos(ph[k]), np.sin(ph[k]), 0.0]
        from hpcorb.models.t2g import build_lattice
        ref = tc.free_energy(build_lattice(tc._lattice_params(deck["trilayer"]), m_right=m), 0.05, "dense")
        assert abs(g["angles/F"][1, k] - ref) < 1e-10 * abs(ref)
    with h5py.File(out, "r") as h5:
        assert "free energy" in tc.summary(h5)
