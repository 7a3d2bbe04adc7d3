"""slurm/*.sbatch and the launcher against a running (private, single-node)
Slurm: submission from anywhere, MPI plugin choice, checkpoint + requeue on
USR1 / time limit / scontrol requeue, job arrays, deck errors.

Every job's numbers are compared with ``./run DECK -n 2`` outside Slurm to
1e-12 (the ``reference`` fixture).  Slow runs without CPU load come from the
test hook that sleeps S s after each chunk (``HPCORB_FAULT=sleep:S``; the
same as ``HPCORB_FAULT_SLOW=S`` of the hardening work, also set).
"""
from __future__ import annotations

import os
import re

from slurm_helpers import (ARRAY_SCRIPT, JOB_SCRIPT, REPO, SMALL, assert_same, dos_deck,
                           read_results)
from helpers import write_deck

from hpcorb.launch import srun_mpi_args


def _text(path):
    with open(path) as f:
        return f.read()


def _starts(out_text):
    return re.findall(r"^hpcorb job \d+: start (\d+) ", out_text, re.M)


def test_sbatch_from_repo_other_folder_and_relative_deck(slurm, reference, tmp_path):
    """The issue's first contact: `sbatch slurm/hpcorb_job.sbatch DECK` from the
    repository, the script by absolute path from another folder, and both
    paths relative to the submission folder.  MpiDefault=none (Slurm's
    default): the launcher must pick the MPI plugin itself."""
    assert "MpiDefault              = none" in slurm.run(["scontrol", "show", "config"]).stdout
    a = tmp_path / "a"
    b = tmp_path / "b"
    c = tmp_path / "c" / "sub"
    for folder in (a, b, c):
        folder.mkdir(parents=True)
    write_deck(a / "a.toml", dos_deck("a.h5"))
    write_deck(b / "b.toml", dos_deck("b.h5"))
    write_deck(tmp_path / "c" / "c.toml", dos_deck("c.h5"))
    jobs = {
        # from the repository, as the README says (output file kept out of the clone)
        "a": slurm.sbatch([*SMALL, f"--output={a}/job.out", "slurm/hpcorb_job.sbatch", str(a / "a.toml")],
                          cwd=REPO),
        # from another folder: absolute script, relative deck; default output name
        "b": slurm.sbatch([*SMALL, JOB_SCRIPT, "b.toml"], cwd=b),
        # script and deck both relative to the submission folder
        "c": slurm.sbatch([*SMALL, os.path.relpath(JOB_SCRIPT, c), "../c.toml"], cwd=c),
    }
    outs = {"a": a / "job.out", "b": b / f"hpcorb-{jobs['b']}.out", "c": c / f"hpcorb-{jobs['c']}.out"}
    results = {"a": a / "a.h5", "b": b / "b.h5", "c": tmp_path / "c" / "c.h5"}
    for key, job in jobs.items():
        rec = slurm.wait(job, out=str(outs[key]))
        text = _text(outs[key])
        assert rec["JobState"] == "COMPLETED" and rec["ExitCode"] == "0:0", (rec, text)
        assert f"repository {REPO}" in text, text
        assert read_results(results[key])[2] == 2          # mpi_size
        assert_same(results[key], reference)
        assert not os.path.exists(str(results[key]) + ".ckpt")


def test_launcher_mpi_plugin_choice(slurm, monkeypatch):
    """srun_mpi_args against this srun: pmix for Open MPI under MpiDefault=none;
    an explicit SLURM_MPI_TYPE or --mpi in HPCORB_SRUN_ARGS wins; extra args kept."""
    monkeypatch.setenv("SLURM_CONF", slurm.env["SLURM_CONF"])
    for k in ("SLURM_MPI_TYPE", "HPCORB_SRUN_ARGS"):
        monkeypatch.delenv(k, raising=False)
    listed = slurm.run(["srun", "--mpi=list"])
    assert "pmix" in listed.stdout + listed.stderr
    assert srun_mpi_args() == ["--mpi=pmix"]
    monkeypatch.setenv("HPCORB_SRUN_ARGS", "--overlap --cpu-bind=none")
    assert srun_mpi_args() == ["--mpi=pmix", "--overlap", "--cpu-bind=none"]
    monkeypatch.setenv("HPCORB_SRUN_ARGS", "--mpi=pmi2 --overlap")
    assert srun_mpi_args() == ["--mpi=pmi2", "--overlap"]
    monkeypatch.delenv("HPCORB_SRUN_ARGS")
    monkeypatch.setenv("SLURM_MPI_TYPE", "pmi2")
    assert srun_mpi_args() == []


def test_mpi_default_pmix_and_wrong_plugin(slurm, reference, tmp_path, monkeypatch):
    """MpiDefault=pmix: the site's choice is used as is (no --mpi) and 2 ranks start.
    Then HPCORB_SRUN_ARGS=--mpi=none (what plain srun does under Slurm's default)
    shows why the choice matters: Open MPI cannot start, the job fails."""
    write_deck(tmp_path / "p.toml", dos_deck("p.h5"))
    monkeypatch.setenv("SLURM_CONF", slurm.env["SLURM_CONF"])
    monkeypatch.delenv("SLURM_MPI_TYPE", raising=False)
    monkeypatch.delenv("HPCORB_SRUN_ARGS", raising=False)
    with slurm.mpi_default("pmix"):
        assert srun_mpi_args() == []
        job = slurm.sbatch([*SMALL, "--output=p.out", JOB_SCRIPT, "p.toml"], cwd=tmp_path)
        rec = slurm.wait(job, out=str(tmp_path / "p.out"))
    assert rec["JobState"] == "COMPLETED", _text(tmp_path / "p.out")
    assert read_results(tmp_path / "p.h5")[2] == 2
    assert_same(tmp_path / "p.h5", reference)

    write_deck(tmp_path / "n.toml", dos_deck("n.h5"))
    job = slurm.sbatch([*SMALL, "--output=n.out", JOB_SCRIPT, "n.toml"], cwd=tmp_path,
                       env=slurm.environ(HPCORB_SRUN_ARGS="--mpi=none"))
    rec = slurm.wait(job, out=str(tmp_path / "n.out"))
    assert rec["JobState"] == "FAILED" and rec["ExitCode"] != "0:0"
    assert "MPI_Init" in _text(tmp_path / "n.out")
    assert not (tmp_path / "n.h5").exists()


def _slow_job(slurm, tmp_path, name, sleep, extra=(), checkpoint_interval=None):
    deck = write_deck(tmp_path / f"{name}.toml", dos_deck(f"{name}.h5", checkpoint_interval=checkpoint_interval))
    out = tmp_path / f"{name}.out"
    job = slurm.sbatch([*SMALL, f"--output={out}", *extra, JOB_SCRIPT, deck], cwd=tmp_path,
                       env=slurm.environ(HPCORB_FAULT=f"sleep:{sleep}", HPCORB_FAULT_SLOW=sleep))
    return job, out, tmp_path / f"{name}.h5"


def _running_chunks(out):
    """Wait condition: the job has computed some chunks (progress or checkpoint line)."""
    return lambda: os.path.exists(out) and "chunks" in _text(out)


def test_scancel_usr1_checkpoint_requeue_resume(slurm, reference, tmp_path):
    """scancel --signal=USR1 --batch mid-run: exit 75, checkpoint, the script
    requeues, Slurm starts the job again by itself (same 2 tasks: a requeued
    job keeps its request and SLURM_NTASKS) and it resumes to the same numbers."""
    job, out, res = _slow_job(slurm, tmp_path, "u", 0.05, checkpoint_interval=0.5)
    ckpt = str(res) + ".ckpt"
    slurm.wait_for("a first checkpoint", lambda: os.path.exists(ckpt), out=str(out))
    slurm.run(["scancel", "--signal=USR1", "--batch", job])
    slurm.wait_for("the requeued job to wait", lambda: slurm.state(job).get("JobState") == "PENDING"
                   and slurm.state(job).get("Restarts") == "1", out=str(out))
    rec = slurm.wait(job, restarts=1, out=str(out))
    text = _text(out)
    assert rec["JobState"] == "COMPLETED" and rec["ExitCode"] == "0:0", text
    assert rec["Restarts"] == "1" and _starts(text) == ["1", "2"], text
    assert "received SIGUSR1" in text and "exit 75, checkpoint written; requeueing" in text, text
    m = re.search(r"resuming from checkpoint, (\d+)/160 chunks done", text)
    assert m and 0 < int(m.group(1)) < 160, text
    assert read_results(res)[2] == 2
    assert_same(res, reference)


def test_time_limit_signal_checkpoint_requeue(slurm, reference, tmp_path):
    """--time=1 --signal=B:USR1@20: slurmctld signals the batch shell 10-40 s
    into the job (it checks time limits every 30 s), well before the limit.
    The run needs ~50 s, so each start is signalled, checkpoints, exits 75 and
    requeues itself, until a start finishes the remaining chunks; every start
    resumes where the previous one stopped, and the numbers are unchanged."""
    job, out, res = _slow_job(slurm, tmp_path, "t", 0.6, extra=["--time=1", "--signal=B:USR1@20"])
    rec = slurm.wait(job, restarts=1, timeout=300, out=str(out))
    text = _text(out)
    assert rec["JobState"] == "COMPLETED" and rec["ExitCode"] == "0:0", text
    starts = _starts(text)
    assert len(starts) >= 2 and starts == [str(i + 1) for i in range(len(starts))], text
    assert rec["Restarts"] == str(len(starts) - 1), (rec, text)
    assert text.count("exit 75, checkpoint written; requeueing") == len(starts) - 1, text
    assert "hpcorb job: SIGUSR1" in text and "received SIGUSR1" in text, text
    resumed = [int(n) for n in re.findall(r"resuming from checkpoint, (\d+)/160 chunks done", text)]
    assert len(resumed) == len(starts) - 1 and resumed == sorted(set(resumed)) and resumed[0] > 0, text
    assert_same(res, reference)


def test_scontrol_requeue_resumes_from_checkpoint(slurm, reference, tmp_path):
    """`scontrol requeue` (what preemption or a node failure looks like to the
    job): the job is ended at once (SIGTERM, SIGKILL after KillWait) and
    restarted by Slurm; the new start resumes from the checkpoint on disk (the
    SIGTERM one if the ranks got to write it, else the last periodic one)
    instead of from zero."""
    job, out, res = _slow_job(slurm, tmp_path, "q", 0.05, checkpoint_interval=0.5)
    ckpt = str(res) + ".ckpt"
    slurm.wait_for("a periodic checkpoint", lambda: os.path.exists(ckpt) and "checkpoint written (" in _text(out),
                   out=str(out))
    slurm.run(["scontrol", "requeue", job])
    rec = slurm.wait(job, restarts=1, out=str(out))
    text = _text(out)
    assert rec["JobState"] == "COMPLETED" and rec["ExitCode"] == "0:0", text
    assert _starts(text) == ["1", "2"], text
    m = re.search(r"resuming from checkpoint, (\d+)/160 chunks done", text)
    assert m and int(m.group(1)) > 0, text
    assert_same(res, reference)


def test_scancel_then_resubmit_on_one_task(slurm, reference, tmp_path):
    """The README's way to continue on another size: `scancel JOB` (SIGTERM:
    the ranks checkpoint), then submit the same deck with other resources; the
    new job (1 task instead of 2) resumes from the checkpoint, same numbers."""
    job, out, res = _slow_job(slurm, tmp_path, "r", 0.05, checkpoint_interval=0.5)
    ckpt = str(res) + ".ckpt"
    slurm.wait_for("a first checkpoint", lambda: os.path.exists(ckpt), out=str(out))
    slurm.run(["scancel", job])
    rec = slurm.wait(job, out=str(out))
    assert rec["JobState"] == "CANCELLED" and os.path.exists(ckpt), _text(out)
    assert not res.exists()
    one_task = [a for a in SMALL if not a.startswith("--ntasks")] + ["--ntasks=1", "--ntasks-per-node=1"]
    job2 = slurm.sbatch([*one_task, f"--output={out}", JOB_SCRIPT, str(tmp_path / "r.toml")], cwd=tmp_path)
    rec = slurm.wait(job2, out=str(out))
    text = _text(out)
    assert rec["JobState"] == "COMPLETED", text
    m = re.search(r"resuming from checkpoint, (\d+)/160 chunks done", text)
    assert m and 0 < int(m.group(1)) < 160, text
    assert read_results(res)[2] == 1
    assert_same(res, reference)


def test_job_array_with_one_bad_deck(slurm, reference, tmp_path):
    """hpcorb_array.sbatch over three decks, the second one bad: that task alone
    fails with exit 2 and one line naming the key; the other two finish."""
    write_deck(tmp_path / "one.toml", dos_deck("one.h5"))
    write_deck(tmp_path / "bad.toml", dos_deck("bad.h5", broadening=-1.0))
    write_deck(tmp_path / "three.toml", dos_deck("three.h5"))
    (tmp_path / "decks.txt").write_text("one.toml\nbad.toml\nthree.toml\n")
    job = slurm.sbatch([*SMALL, "--array=1-3", ARRAY_SCRIPT, "decks.txt"], cwd=tmp_path)
    recs = slurm.wait(job, out=str(tmp_path / f"hpcorb-{job}_2.out"))
    by_task = {r["ArrayTaskId"]: r for r in recs}
    assert sorted(by_task) == ["1", "2", "3"], recs
    for task, name in (("1", "one"), ("3", "three")):
        assert by_task[task]["JobState"] == "COMPLETED", _text(tmp_path / f"hpcorb-{job}_{task}.out")
        assert_same(tmp_path / f"{name}.h5", reference)
    assert by_task["2"]["JobState"] == "FAILED" and by_task["2"]["ExitCode"] == "2:0"
    text = _text(tmp_path / f"hpcorb-{job}_2.out")
    errors = [ln for ln in text.splitlines() if "error" in ln.lower()]
    # one line naming the key, the value and what is allowed (the range may grow an upper bound)
    assert len(errors) == 1 and errors[0].startswith(
        "hpcorb: error: dos.broadening = -1.0: expected a number, > 0"), text
    assert "Traceback" not in text and not (tmp_path / "bad.h5").exists()


def test_deck_error_and_nested_steps_inside_allocation(slurm, reference, tmp_path):
    """Inside an allocation a deck error is one line, once (not per rank), and
    exit 2: via ./run (before any rank starts) and via srun ./run (every task a
    rank; srun exits 2).  Plain srun under MpiDefault=none: one line too.
    From inside a 1-task step (what `srun --pty bash` gives), ./run -n 2 starts
    its ranks with --overlap instead of waiting for CPUs the step holds."""
    write_deck(tmp_path / "bad.toml", dos_deck("bad.h5", broadening=-1.0))
    write_deck(tmp_path / "good.toml", dos_deck("good.h5"))
    script = tmp_path / "err.sh"
    script.write_text(f"""#!/bin/bash
"{REPO}/run" bad.toml -n 2; echo "run exit $?"
srun --mpi=pmix "{REPO}/run" bad.toml; echo "srun-pmix exit $?"
srun "{REPO}/run" bad.toml; echo "srun-none exit $?"
srun -n 1 "{REPO}/run" good.toml -n 2; echo "nested exit $?"
""")
    job = slurm.sbatch(["--ntasks=2", "--time=5", "--output=err.out", str(script)], cwd=tmp_path)
    rec = slurm.wait(job, out=str(tmp_path / "err.out"))
    text = _text(tmp_path / "err.out")
    assert rec["JobState"] == "COMPLETED", text
    blocks = re.split(r"^(?:run|srun-pmix|srun-none|nested) exit \d+$", text, flags=re.M)[:3]
    codes = re.findall(r"^(run|srun-pmix|srun-none|nested) exit (\d+)$", text, re.M)
    assert codes == [("run", "2"), ("srun-pmix", "2"), ("srun-none", "2"), ("nested", "0")], text
    msg = "hpcorb: error: dos.broadening = -1.0: expected a number, > 0"
    assert blocks[0].count("hpcorb: error:") == 1 and msg in blocks[0], text
    assert blocks[1].count("hpcorb: error:") == 1 and msg in blocks[1], text
    assert blocks[2].count("hpcorb: error:") == 1 and "srun --mpi=pmix" in blocks[2], text
    assert "Traceback" not in text and not (tmp_path / "bad.h5").exists()
    assert read_results(tmp_path / "good.h5")[2] == 2
    assert_same(tmp_path / "good.h5", reference)


def test_other_scripts_find_the_repository(slurm, reference, tmp_path):
    """slab_kubo_400.sbatch and trilayer_sparse.sbatch (production resources,
    here cut down) also work from another folder, here on a small deck."""
    jobs = {}
    for name in ("slab_kubo_400", "trilayer_sparse"):
        write_deck(tmp_path / f"{name}.toml", dos_deck(f"{name}.h5"))
        script = os.path.join(REPO, "slurm", f"{name}.sbatch")
        jobs[name] = slurm.sbatch([*SMALL, f"--output={name}.out", script, f"{name}.toml"], cwd=tmp_path)
    for name, job in jobs.items():
        rec = slurm.wait(job, out=str(tmp_path / f"{name}.out"))
        assert rec["ExitCode"] == "0:0", _text(tmp_path / f"{name}.out")
        assert read_results(tmp_path / f"{name}.h5")[2] == 2
        assert_same(tmp_path / f"{name}.h5", reference)
