"""Test setup: h5py's MPI build, Agg plots, quiet non-root ranks under mpiexec."""
import os
import subprocess
import sys

os.environ.setdefault("H5PY_ALWAYS_USE_MPI", "1")
for _k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_k, "1")      # before numpy loads: small matrices, many ranks
os.environ.setdefault("MPLBACKEND", "Agg")
for k, v in {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
             "OMPI_MCA_rmaps_base_oversubscribe": "1",
             "OMPI_MCA_btl_vader_single_copy_mechanism": "none"}.items():
    os.environ.setdefault(k, v)

import pytest  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _rank():
    from hpcorb.parallel.comm import launched_by_mpi
    if not launched_by_mpi():
        return 0
    from mpi4py import MPI
    return MPI.COMM_WORLD.Get_rank()


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    if _rank() != 0:   # one report per MPI job, from rank 0
        tr = config.pluginmanager.getplugin("terminalreporter")
        if tr is not None:
            config.pluginmanager.unregister(tr)


def hpcorb_cli(args, cwd=None, env=None, timeout=300):
    """Run ``python -m hpcorb.launch ARGS``; returns CompletedProcess (text)."""
    e = dict(os.environ)
    e.pop("HPCORB_FAULT", None)
    e.update(env or {})
    return subprocess.run([sys.executable, "-P", "-m", "hpcorb.launch", *args], cwd=cwd or REPO,
                          env=e, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def cli():
    return hpcorb_cli
