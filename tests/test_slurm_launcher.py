"""How the launcher calls srun (no scheduler needed): the MPI plugin choice
from `scontrol show config` / `srun --mpi=list` / the MPI vendor, explicit
user settings, HPCORB_SRUN_ARGS.  The same logic against a running Slurm is
in tests/slurm/test_slurm_jobs.py."""
import pytest

from hpcorb import launch

LIST_22 = "MPI plugin types are...\n\tpmix\n\tnone\n\tcray_shasta\n\tpmi2\n" \
          "specific pmix plugin versions available: pmix_v4\n"
LIST_OLD = "srun: MPI types are...\nsrun: none\nsrun: pmix_v3\nsrun: pmi2\n"


def fake(monkeypatch, *, default="none", plugins=LIST_22, vendor="Open MPI"):
    calls = []

    def quiet(cmd):
        calls.append(cmd[0])
        if cmd[0] == "scontrol":
            return f"MpiDefault              = {default}\nMpiParams               = (null)\n"
        if cmd[0] == "srun":
            return plugins
        return vendor + "\n"
    monkeypatch.setattr(launch, "_quiet", quiet)
    return calls


@pytest.mark.parametrize("vendor, plugins, expected", [
    ("Open MPI", LIST_22, "--mpi=pmix"),
    ("Open MPI", LIST_OLD, "--mpi=pmix_v3"),
    ("Open MPI", "MPI plugin types are...\n\tnone\n\tpmi2\n", "--mpi=pmi2"),
    ("MPICH", LIST_22, "--mpi=pmi2"),
    ("", LIST_22, "--mpi=pmix"),          # vendor unknown: pmix first
])
def test_plugin_chosen_under_mpi_default_none(monkeypatch, vendor, plugins, expected):
    fake(monkeypatch, plugins=plugins, vendor=vendor)
    assert launch.srun_mpi_args({}) == [expected]


def test_no_usable_plugin_passes_nothing(monkeypatch):
    fake(monkeypatch, plugins="MPI plugin types are...\n\tnone\n")
    assert launch.srun_mpi_args({}) == []


def test_site_default_and_user_settings_win(monkeypatch):
    fake(monkeypatch, default="pmi2")
    assert launch.srun_mpi_args({}) == []                      # the site chose
    calls = fake(monkeypatch)
    assert launch.srun_mpi_args({"SLURM_MPI_TYPE": "pmi2"}) == []
    assert launch.srun_mpi_args({"HPCORB_SRUN_ARGS": "--mpi=pmi2 --overlap"}) == ["--mpi=pmi2", "--overlap"]
    assert launch.srun_mpi_args({"HPCORB_SRUN_ARGS": "--mpi pmi2"}) == ["--mpi", "pmi2"]
    assert calls == []                                           # nothing asked
    assert launch.srun_mpi_args({"HPCORB_SRUN_ARGS": "--cpu-bind=none -c '1'"}) == \
        ["--mpi=pmix", "--cpu-bind=none", "-c", "1"]


def test_mpi_command_inside_an_allocation(monkeypatch):
    fake(monkeypatch)
    monkeypatch.setattr(launch, "in_slurm", lambda: True)
    monkeypatch.delenv("SLURM_STEP_ID", raising=False)
    monkeypatch.setenv("HPCORB_SRUN_ARGS", "--overlap")
    cmd = launch.mpi_command(3, ["_run", "d.toml"])
    assert cmd[:5] == ["srun", "--ntasks=3", "--kill-on-bad-exit=1", "--mpi=pmix", "--overlap"]
    assert cmd[5:] == [launch._python(), "-P", "-m", "hpcorb.launch", "_run", "d.toml"]
    assert launch.mpi_command(None, [])[1] == "--kill-on-bad-exit=1"       # all tasks of the allocation
    monkeypatch.setenv("SLURM_STEP_ID", "0")          # inside `srun --pty bash`: share the step's CPUs
    assert launch.mpi_command(2, [])[:4] == ["srun", "--ntasks=2", "--kill-on-bad-exit=1", "--overlap"]


def test_step_task_count(monkeypatch):
    monkeypatch.setattr(launch, "in_slurm", lambda: True)
    monkeypatch.delenv("SLURM_STEP_ID", raising=False)
    assert launch.slurm_step_tasks() == 0                  # batch shell / salloc shell
    monkeypatch.setenv("SLURM_STEP_ID", "0")
    monkeypatch.setenv("SLURM_STEP_NUM_TASKS", "4")
    assert launch.slurm_step_tasks() == 4                  # srun -n 4 ./run DECK
