"""slurm/*.sbatch without a scheduler: valid bash, one shared way of finding
the repository (not "$0": Slurm runs a spool copy), and that way resolving
the submitted path as Slurm records it (Command=, relative to the
submission folder).  The scripts under a running Slurm: tests/slurm/."""
import glob
import os
import re
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = sorted(glob.glob(os.path.join(REPO, "slurm", "*.sbatch")))


def _finder(path):
    text = open(path).read()
    m = re.search(r"^hpcorb_repo\(\) \{\n.*?^\}\n", text, re.M | re.S)
    assert m, f"{path}: no hpcorb_repo function"
    return m.group(0)


def test_every_script_is_bash_and_shares_the_repository_finder():
    assert len(SCRIPTS) >= 4
    finders = {os.path.basename(p): _finder(p) for p in SCRIPTS}
    for p in SCRIPTS:
        subprocess.run(["bash", "-n", p], check=True)
        text = open(p).read()
        assert 'dirname "$0")/..' not in text.split("hpcorb_repo() {")[0], p   # no $0 before the finder
        assert "HPCORB=$(hpcorb_repo) || exit 2" in text, p
    assert len(set(finders.values())) == 1, "hpcorb_repo differs between scripts: " + ", ".join(finders)


def _find(tmp_path, env):
    fn = _finder(SCRIPTS[0])
    # scontrol as Slurm would answer inside job 7: Command= as submitted
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    (fake / "scontrol").write_text('#!/bin/bash\necho "   Command=$FAKE_COMMAND arg1 arg2"\n')
    (fake / "scontrol").chmod(0o755)
    e = {"PATH": f"{fake}:{os.environ['PATH']}", **env}
    return subprocess.run(["bash", "-c", fn + "hpcorb_repo"], env=e, capture_output=True, text=True,
                          cwd=tmp_path)


@pytest.mark.parametrize("command, submit_dir", [
    ("slurm/hpcorb_job.sbatch", REPO),                                   # from the repository
    (os.path.join(REPO, "slurm", "hpcorb_job.sbatch"), "/"),              # absolute, elsewhere
    (os.path.relpath(os.path.join(REPO, "slurm", "hpcorb_job.sbatch"), "/tmp"), "/tmp"),  # relative, elsewhere
])
def test_finder_uses_the_submitted_path(tmp_path, command, submit_dir):
    r = _find(tmp_path, {"SLURM_JOB_ID": "7", "SLURM_SUBMIT_DIR": submit_dir, "FAKE_COMMAND": command})
    assert r.returncode == 0 and r.stdout.strip() == REPO, r.stderr


def test_finder_explicit_variable_and_failure(tmp_path):
    r = _find(tmp_path, {"SLURM_JOB_ID": "7", "SLURM_SUBMIT_DIR": "/", "FAKE_COMMAND": "", "HPCORB": REPO})
    assert r.stdout.strip() == REPO
    r = _find(tmp_path, {"SLURM_JOB_ID": "7", "SLURM_SUBMIT_DIR": REPO, "FAKE_COMMAND": ""})   # stdin script
    assert r.stdout.strip() == REPO
    r = _find(tmp_path, {"SLURM_JOB_ID": "7", "SLURM_SUBMIT_DIR": "/", "FAKE_COMMAND": "/tmp/x.sbatch"})
    assert r.returncode == 1 and "set HPCORB=/path/to/hpcorb" in r.stderr and not r.stdout
    r = _find(tmp_path, {"SLURM_JOB_ID": "7", "SLURM_SUBMIT_DIR": "/", "FAKE_COMMAND": "", "HPCORB": "/nope"})
    assert r.returncode == 1 and "HPCORB=/nope has no ./run" in r.stderr
