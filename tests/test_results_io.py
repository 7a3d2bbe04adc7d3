"""Results writer: collective (mpio) and gathered paths give the same file;
slices distributed along axis 0 land where they belong; atomic rename."""
import os
import subprocess

import h5py
import numpy as np
import pytest

from hpcorb.io.results import Results, write_results
from hpcorb.log import NullLogger
from hpcorb.parallel import SerialComm, world

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _results(comm, n=11):
    res = Results("demo")
    full = np.arange(n * 4, dtype=float).reshape(n, 4) ** 1.5
    lo, hi = n * comm.rank // comm.size, n * (comm.rank + 1) // comm.size
    res.add_slice("field", full[lo:hi], lo, full.shape, units="eV", description="distributed rows")
    res.add("replicated", full.T.copy(), units="1", description="same on all ranks")
    res.add("scalar", 2.5 + 1j, units="nm", description="complex scalar")
    res.add("sub/labels", np.array(["G", "H", "N"]), description="strings in a subgroup")
    res.attrs["kmesh"] = [4, 4, 4]
    res.attrs["convention"] = "test"
    return res, full


def _check(path, full, size):
    with h5py.File(path, "r") as f:
        assert f.attrs["mpi_size"] == size
        np.testing.assert_array_equal(f["demo/field"][...], full)
        np.testing.assert_array_equal(f["demo/replicated"][...], full.T)
        assert f["demo/scalar"][()] == 2.5 + 1j
        assert [x.decode() for x in f["demo/sub/labels"][...]] == ["G", "H", "N"]
        assert f["demo/field"].attrs["units"] == "eV"
        assert list(f["demo"].attrs["kmesh"]) == [4, 4, 4]


def test_serial_write(tmp_path):
    res, full = _results(SerialComm())
    path = str(tmp_path / "r.h5")
    write_results(path, res, SerialComm(), NullLogger(), deck_text="x")
    _check(path, full, 1)
    assert os.listdir(tmp_path) == ["r.h5"]          # no temporary left behind


@pytest.mark.mpi
@pytest.mark.parametrize("gather", [False, True])
def test_parallel_write(gather, monkeypatch):
    """Collective mpio writes and the gather-to-rank-0 fallback give the same file."""
    comm = world()
    if gather:
        monkeypatch.setenv("HPCORB_H5_GATHER", "1")
    import tempfile
    folder = comm.bcast(tempfile.mkdtemp() if comm.rank == 0 else None)
    res, full = _results(comm)
    path = os.path.join(folder, "r.h5")
    write_results(path, res, comm, NullLogger(), deck_text="x")
    if comm.rank == 0:
        _check(path, full, comm.size)
        with h5py.File(path, "r") as f:
            mpio = comm.size > 1 and h5py.get_config().mpi and not gather
            assert f.attrs["h5_driver"] == ("mpio" if mpio else "serial")
        assert os.listdir(folder) == ["r.h5"]
    comm.barrier()


def test_run_from_another_directory(tmp_path):
    """./run called by its path from elsewhere resolves deck-relative paths."""
    r = subprocess.run([os.path.join(REPO, "run"), "check", os.path.join(REPO, "inputs", "quickstart_dos.toml")],
                       cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert os.path.join(REPO, "inputs", "quickstart_dos.h5") in r.stdout
