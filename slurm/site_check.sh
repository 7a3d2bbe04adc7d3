#!/bin/bash
# Check hpcorb's Slurm path on a real cluster: several nodes, the shared file
# system, the site's MPI plugin and requeue settings.  Run it on a login node,
# from a folder on the file system the compute nodes share (it writes a
# folder site-check-DATE there):
#
#   /path/to/hpcorb/slurm/site_check.sh [SBATCH OPTIONS]      e.g. --partition=debug --account=abc
#
# Default layout: 2 nodes x 2 tasks (override with --nodes / --ntasks-per-node).
# It takes 3-6 minutes, most of it Slurm's requeue delay.  What it does:
#   1. prints the site's settings that matter (MpiDefault, srun --mpi=list,
#      the plugin ./run would add, requeue delay, JobRequeue);
#   2. runs a small deck on this node (1 rank) as the reference;
#   3. submits the same deck with slurm/hpcorb_job.sbatch (slowed with the
#      HPCORB_FAULT=sleep test hook so that it runs ~1 min), waits for the
#      first checkpoint, sends `scancel --signal=USR1 --batch`, and waits for
#      the requeued job to finish;
#   4. checks: exit 0, two starts, the ranks on all nodes (mpi_size), a
#      resume from the checkpoint, the numbers equal to the reference to 1e-12.
# Exit 0 when every check passes; the job output and results stay in the folder.
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK="$PWD/site-check-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$WORK" && cd "$WORK" || exit 1
fail() { echo "site check: FAILED: $*"; echo "site check: files in $WORK"; exit 1; }
say() { echo "site check: $*"; }

command -v sbatch >/dev/null || fail "no sbatch on PATH (run this on a login node of the cluster)"
say "hpcorb repository $HERE; work folder $WORK"
say "$(scontrol show config | grep -E '^(MpiDefault|JobRequeue|AuthInfo|SchedulerParameters) ' | tr -s ' ' | paste -sd ';')"
say "srun --mpi=list: $(srun --mpi=list 2>&1 | grep -vi 'types are' | tr -s ' \t\n' ' ')"
say "./run adds to srun: $("$HERE/.venv/bin/python" -P -c 'from hpcorb.launch import srun_mpi_args; print(" ".join(srun_mpi_args()) or "(nothing)")')"

cat > check.toml <<'EOF'
# hpcorb site check: simple cubic band, 40^3 k in 320 chunks
[calculation]
type = "dos"
[model]
builtin = "cubic"
params = {t = 1.0}
electrons = 0.8
[kmesh]
size = [40, 40, 40]
shift = [0.5, 0.5, 0.5]
chunk_size = 200
[dos]
broadening = 0.05
bins = 4000
[output]
file = "check.h5"
overwrite = true
plots = false
checkpoint_interval = 5.0
[parallel]
sync_interval = 0.0
EOF
sed 's/^file = "check.h5"/file = "reference.h5"/' check.toml > reference.toml
env -u SLURM_JOB_ID "$HERE/run" reference.toml > reference.out 2>&1 || fail "reference run on this node: see reference.out"
say "reference run done (1 rank, this node)"

job=$(HPCORB_FAULT=sleep:0.4 sbatch --parsable --nodes=2 --ntasks-per-node=2 --mem-per-cpu=500M \
      --time=15 --output=job.out "$@" "$HERE/slurm/hpcorb_job.sbatch" check.toml) || fail "sbatch refused the job"
job=${job%%;*}
say "submitted job $job; waiting for its first checkpoint"
for _ in $(seq 600); do [ -f check.h5.ckpt ] && break; sleep 1; done
[ -f check.h5.ckpt ] || fail "no checkpoint after 10 min (queue wait? see squeue -j $job, job.out)"
scancel --signal=USR1 --batch "$job" || fail "scancel --signal=USR1 --batch $job"
say "sent SIGUSR1; waiting for exit 75, the requeue (Slurm holds it ~2 min) and the second start"
state=""
for _ in $(seq 1200); do
    state=$(scontrol show job "$job" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | head -n 1)
    restarts=$(scontrol show job "$job" 2>/dev/null | sed -n 's/.*Restarts=\([0-9]*\).*/\1/p' | head -n 1)
    case $state in COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY) [ "${restarts:-0}" -ge 1 ] && break ;; esac
    case $state in "") grep -q "exit 0$" job.out && state=COMPLETED && break ;; esac   # record expired
    sleep 1
done
[ "$state" = COMPLETED ] || fail "job $job ended $state (see job.out)"
[ "$(grep -c '^hpcorb job .*: start ' job.out)" -ge 2 ] || fail "job.out shows one start only"
grep -q "exit 75, checkpoint written" job.out || fail "no exit 75 + checkpoint in job.out"
grep -q "resuming from checkpoint" job.out || fail "the second start did not resume from the checkpoint"
"$HERE/.venv/bin/python" -P - <<'EOF' || fail "results differ (see above)"
import h5py, numpy as np
with h5py.File("check.h5", "r") as a, h5py.File("reference.h5", "r") as b:
    size, host = int(a.attrs["mpi_size"]), a.attrs["host"]
    x, y = a["dos/dos"][...], b["dos/dos"][...]
    ea, eb = float(a["dos"].attrs["fermi_energy"]), float(b["dos"].attrs["fermi_energy"])
print(f"site check: job ran on {size} ranks (host attribute: {host})")
err = float(np.max(np.abs(x - y)) / np.max(np.abs(y)))
print(f"site check: max relative DOS difference {err:.2e}, Fermi energy {ea:.15f} vs {eb:.15f}")
assert size >= 2, "mpi_size < 2: the ranks did not form one MPI job"
assert err <= 1e-12 and abs(ea - eb) <= 1e-12 * max(1.0, abs(eb))
EOF
say "nodes of the job: $(grep -o 'on [^,]*, [0-9]* tasks' job.out | sort -u | paste -sd ';')"
say "PASSED: one MPI job over the allocation's nodes, checkpoint on SIGUSR1, automatic requeue and resume, equal results"
