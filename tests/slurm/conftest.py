"""The ``slurm`` session fixture: a private single-node Slurm (slurmcluster.py)
started once for the tests in this folder and stopped at the end.

These tests run in the serial pass of ``./run test`` (never under mpiexec:
they are not marked ``mpi``).  They are not skipped: where ``./run setup`` has
run, slurm-wlm and munge are installed, and a cluster that cannot start is a
test error with the daemons' logs in the message.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

import slurmcluster
from helpers import write_deck
from slurm_helpers import REPO, Slurm, dos_deck, read_results


@pytest.fixture(scope="session")
def slurm(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("slurm"))
    try:
        env = slurmcluster.start(folder)
    except (slurmcluster.ClusterError, OSError, subprocess.CalledProcessError) as e:
        slurmcluster.stop(folder)
        pytest.fail(f"cannot start the private Slurm for the tests: {e}", pytrace=False)
    try:
        yield Slurm(folder, env)
    finally:
        slurmcluster.stop(folder)


@pytest.fixture(scope="session")
def reference(tmp_path_factory):
    """``./run DECK -n 2`` outside Slurm (mpiexec): the numbers every job must give."""
    d = tmp_path_factory.mktemp("slurm_ref")
    deck = write_deck(d / "ref.toml", dos_deck("ref.h5"))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SLURM_") and not k.startswith("HPCORB_")}
    r = subprocess.run([sys.executable, "-P", "-m", "hpcorb.launch", deck, "-n", "2"], cwd=REPO,
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return read_results(d / "ref.h5")
