#!/usr/bin/env python3
"""A private single-node Slurm (munged + slurmctld + slurmd) for the tests.

    python3 tests/slurm/slurmcluster.py start DIR    # start; prints `export SLURM_CONF=...`
    python3 tests/slurm/slurmcluster.py stop DIR     # cancel jobs, stop the daemons it started

Everything lives in DIR: a fresh MUNGE key and socket (the machine's own
munged, if any, is not used or touched), ``slurm.conf`` (this host as the only
node, 127.0.0.1, free TCP ports, ``proctrack/linuxproc``, ``task/none``, no
accounting database), state, spool, logs and PID files.  The three daemons run
in the foreground (``-F`` / ``-D``) as children of the starting process, and
``stop`` signals exactly the PIDs written by ``start``.  Client commands
(``sbatch``, ``srun``, ``scontrol``) find the cluster through ``SLURM_CONF``.

Debian 12: ``apt-get install slurm-wlm munge`` (``./run setup`` does it).
Runs as root (SlurmUser = SlurmdUser = the current user); no systemd needed.
"""
from __future__ import annotations

import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import sys
import time

DAEMONS = ("munged", "slurmctld", "slurmd")
# Slurm 22.05 keeps a requeued job PENDING for the credential lifetime + 1 s
# (default 120 s) before it may start again; 8 s keeps the requeue tests short
# while still proving that the job comes back by itself.
CRED_EXPIRE = 8
_STARTED: dict = {}     # folder -> {daemon: Popen} started by this process (reaped by stop)


class ClusterError(RuntimeError):
    pass


def _free_ports(n):
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _node_line():
    """This machine's CPUs and memory as slurmd sees them (``slurmd -C``)."""
    out = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout
    fields = dict(w.split("=", 1) for w in out.split() if "=" in w)
    cpus = int(fields.get("CPUs", os.cpu_count() or 1))
    mem = int(fields.get("RealMemory", 1024))
    # at least 2 CPUs so that 2-rank jobs fit (config_overrides lets a 1-core
    # machine declare them); memory a little below the real value.
    return max(2, cpus), max(256, int(mem * 0.9))


def _host():
    return socket.gethostname().split(".")[0]


def write_config(d, mpi_default="none"):
    host = _host()
    ctld_port, slurmd_port = _free_ports(2)
    cpus, mem = _node_line()
    user = pwd.getpwuid(os.getuid()).pw_name
    first_job_id = random.randint(1000, 60_000_000)
    conf = f"""\
# private single-node Slurm for the hpcorb tests (tests/slurm/slurmcluster.py)
ClusterName=hpcorbtest
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser={user}
SlurmdUser={user}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={d}/munge/munge.socket,cred_expire={CRED_EXPIRE}
MpiDefault={mpi_default}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
JobRequeue=1
KillWait=5
MinJobAge=600
InactiveLimit=0
SchedulerParameters=sched_interval=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
StateSaveLocation={d}/state
# PMIx puts each step's client folder under TmpFS (spmix_appdir_UID_JOB.STEP);
# the default /tmp is shared by every private cluster on the machine, whose
# job ids all start at 1: a second cluster's step could not launch.
TmpFS={d}/tmp
# Job ids that differ between private clusters on one machine: Open MPI names
# its shared-memory segments after the PMIx namespace (job.step), so two
# clusters' job 7.0 on one host would share them (seen: segfault in vader).
FirstJobId={first_job_id}
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmctldLogFile={d}/slurmctld.log
SlurmdLogFile={d}/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={mem} State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""
    path = os.path.join(d, "slurm.conf")
    with open(path, "w") as f:
        f.write(conf)
    return path


def set_mpi_default(d, value, timeout=30):
    """Rewrite MpiDefault in DIR/slurm.conf and make the daemons reread it."""
    path = os.path.join(d, "slurm.conf")
    with open(path) as f:
        lines = [f"MpiDefault={value}\n" if ln.startswith("MpiDefault=") else ln for ln in f]
    with open(path, "w") as f:
        f.writelines(lines)
    env = env_for(d)
    subprocess.run(["scontrol", "reconfigure"], env=env, check=True, capture_output=True)
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        out = subprocess.run(["scontrol", "show", "config"], env=env, capture_output=True, text=True).stdout
        if any(ln.split() == ["MpiDefault", "=", value] for ln in out.splitlines()):
            return
        time.sleep(0.2)
    raise ClusterError(f"slurmctld did not take MpiDefault={value} within {timeout} s")


def _spawn(d, name, cmd, env):
    with open(os.path.join(d, f"{name}.out"), "w") as log:
        p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             env=env, start_new_session=True)
    with open(os.path.join(d, f"{name}.started-pid"), "w") as f:
        f.write(str(p.pid))
    return p


def _tail(path, n=15):
    try:
        with open(path) as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return "(no log)"


def _wait(what, ok, timeout, procs, d):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        for name, p in procs.items():
            if p.poll() is not None:
                raise ClusterError(f"{name} exited with code {p.returncode} while waiting for {what}:\n"
                                   + _tail(os.path.join(d, f"{name}.out"))
                                   + _tail(os.path.join(d, f"{name}.log")))
        if ok():
            return
        time.sleep(0.2)
    raise ClusterError(f"timed out after {timeout} s waiting for {what}; logs in {d}")


def env_for(d):
    env = dict(os.environ)
    env["SLURM_CONF"] = os.path.join(d, "slurm.conf")
    for k in list(env):       # a surrounding allocation must not leak into ours
        if k.startswith("SLURM_") and k != "SLURM_CONF":
            del env[k]
    return env


def start(d, mpi_default="none", timeout=60):
    """Start the cluster in folder d; returns the environment for client commands."""
    missing = [x for x in ("munged", "slurmctld", "slurmd", "sbatch", "srun", "scontrol", "sinfo")
               if shutil.which(x) is None]
    if missing:
        raise ClusterError("not installed: " + ", ".join(missing) +
                           " (apt-get install slurm-wlm munge; ./run setup does it)")
    d = os.path.abspath(d)
    for sub in ("munge", "state", "spool", "tmp"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    os.chmod(d, 0o755)
    os.chmod(os.path.join(d, "munge"), 0o700)
    key = os.path.join(d, "munge", "munge.key")
    with open(os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o400), "wb") as f:
        f.write(os.urandom(1024))
    conf = write_config(d, mpi_default)
    env = env_for(d)
    procs = _STARTED.setdefault(d, {})
    procs["munged"] = _spawn(d, "munged", [
        "munged", "-F", "-f", f"--socket={d}/munge/munge.socket", f"--key-file={key}",
        f"--pid-file={d}/munge/munged.pid", f"--log-file={d}/munged.log",
        f"--seed-file={d}/munge/munged.seed"], env)
    _wait("the MUNGE socket", lambda: os.path.exists(f"{d}/munge/munge.socket"), timeout, procs, d)
    procs["slurmctld"] = _spawn(d, "slurmctld", ["slurmctld", "-D", "-c", "-f", conf], env)

    def ctld_up():
        return subprocess.run(["scontrol", "ping"], env=env, capture_output=True,
                              text=True).stdout.count("UP") > 0
    _wait("slurmctld", ctld_up, timeout, procs, d)
    procs["slurmd"] = _spawn(d, "slurmd", ["slurmd", "-D", "-N", _host(), "-f", conf], env)

    def node_idle():
        r = subprocess.run(["sinfo", "-h", "-o", "%t"], env=env, capture_output=True, text=True)
        return r.stdout.strip() == "idle"
    _wait("the node to be idle in sinfo", node_idle, timeout, procs, d)
    return env


def _pids(d):
    out = {}
    for name in DAEMONS:
        try:
            with open(os.path.join(d, f"{name}.started-pid")) as f:
                out[name] = int(f.read())
        except (OSError, ValueError):
            pass
    return out


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie of ours counts as gone
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def stop(d, timeout=30):
    """Cancel every job, wait for them to end, then stop the daemons start() began."""
    d = os.path.abspath(d)
    env = env_for(d)
    pids = _pids(d)
    if "slurmctld" in pids and _alive(pids["slurmctld"]):
        subprocess.run(["scancel", "--full", "-u", str(os.getuid())], env=env, capture_output=True)
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            r = subprocess.run(["squeue", "-h"], env=env, capture_output=True, text=True)
            if r.returncode != 0 or not r.stdout.strip():
                break
            time.sleep(0.5)
    ours = _STARTED.pop(d, {})
    for name in ("slurmd", "slurmctld", "munged"):
        pid = pids.get(name)
        proc = ours.get(name)
        if proc is not None and proc.pid == pid:       # our child: signal and reap it
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            continue
        if pid is None or not _alive(pid):               # started by `start` in another process
            continue
        os.kill(pid, signal.SIGTERM)
        t0 = time.monotonic()
        while _alive(pid) and time.monotonic() - t0 < timeout:
            time.sleep(0.1)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def main(argv):
    if len(argv) != 2 or argv[0] not in ("start", "stop"):
        print(__doc__.split("\n\n")[0], file=sys.stderr)
        return 2
    cmd, d = argv
    if cmd == "start":
        os.makedirs(d, exist_ok=True)
        try:
            start(d)
        except ClusterError as e:
            print(f"cluster: {e}", file=sys.stderr)
            stop(d)
            return 1
        print(f"export SLURM_CONF={os.path.abspath(d)}/slurm.conf")
        return 0
    stop(d)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
