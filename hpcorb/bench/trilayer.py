"""Benchmark of the `trilayer` solvers: ``./run bench trilayer [--sizes 10x20,16x25,20x40] [--ranks 1,2]``.

1. k_y-block path on the paper's Fig. 2 system (nx = 25, ny = 800, 401 k_y blocks of 75 states).
2. Disordered t2g trilayers of growing size: dense LAPACK time and peak memory (1 rank) vs the
   SLEPc path (shift-and-invert windows, MUMPS) time and peak memory per rank on 1 and 2 ranks.
   Every point runs in a fresh process (``mpiexec -n R python -m hpcorb.bench.trilayer --worker``)
   so that peak resident memory (VmHWM) belongs to that point alone; the baseline (Python +
   numpy + PETSc loaded, before the solve) is printed beside it.
3. The crossover size where the sparse path beats dense: measured if it falls inside the sizes,
   else extrapolated from power-law fits t ~ N^p of the measured times (printed as such).
All numbers are measured in this run; nothing is asserted.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
from ..calculations import trilayer as tc
from ..models.t2g import build_lattice
from ..parallel import SerialComm
from ..parallel import world
from ..solvers.slepc import _petsc


def _rss_kb(field):
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _params(nx, ny):
    return dict(nx=nx, ny=ny, n_fm=2, gamma=0.8, t=1.0, mu=-1.0, temperature=0.01,
                m_left=[1.0, 0, 0], m_right=[0, 1.0, 0], disorder=0.5, seed=7)


def worker(argv):
    """One measurement: --worker dense|sparse NX NY NEV."""
    comm = world()
    kind, nx, ny, nev = argv[0], int(argv[1]), int(argv[2]), int(argv[3])
    lat = build_lattice(_params(nx, ny))
    if kind == "sparse":
        _petsc(comm)
    base = _rss_kb("VmRSS")
    comm.barrier()
    t0 = time.perf_counter()
    if kind == "dense":
        b, E = tc.solve_dense(lat, 0.01)
        F, windows = b.F, 0
    else:
        sol = tc.solve(lat, 0.01, "sparse", comm, sparse_opts={"nev": nev})
        F, windows = sol["F"], sol["info"]["windows"]
    comm.barrier()
    dt = time.perf_counter() - t0
    peaks = comm.gather((_rss_kb("VmHWM"), base))
    if comm.rank == 0:
        print("RESULT " + json.dumps({"kind": kind, "N": lat.n_states, "ranks": comm.size,
                                      "seconds": dt, "F": F, "windows": windows,
                                      "peak_kb": [p[0] for p in peaks], "base_kb": [p[1] for p in peaks]}),
              flush=True)
    return 0


def _spawn(kind, nx, ny, nev, ranks, timeout):
    env = dict(os.environ)
    env.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
    env.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    env.setdefault("OMPI_MCA_rmaps_base_oversubscribe", "1")
    env.setdefault("OMPI_MCA_btl_vader_single_copy_mechanism", "none")
    env.setdefault("OMPI_MCA_mpi_yield_when_idle", "1")   # shared machines: do not spin
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, "-m", "hpcorb.bench.trilayer", "--worker", kind, str(nx), str(ny), str(nev)]
    if ranks > 1:
        mpiexec = shutil.which("mpiexec") or "mpiexec"
        cmd = [mpiexec, "-n", str(ranks)] + cmd
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"kind": kind, "ranks": ranks, "seconds": float("inf"), "timeout": True}
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    return {"kind": kind, "ranks": ranks, "seconds": float("nan"),
            "error": (out.stderr or out.stdout).strip().splitlines()[-1:] or ["?"]}


def _fit(N, t):
    N, t = np.asarray(N, float), np.asarray(t, float)
    ok = np.isfinite(t) & (t > 0)
    if ok.sum() < 2:
        return None
    p, c = np.polyfit(np.log(N[ok]), np.log(t[ok]), 1)
    return p, c


def main(argv, comm) -> int:
    argv = list(argv)
    if argv[:1] == ["--worker"]:
        return worker(argv[1:])
    sizes = [(10, 20), (16, 25), (20, 40)]
    ranks = [1, 2]
    nev = 128
    timeout = 900
    it = iter(argv)
    for a in it:
        if a == "--sizes":
            sizes = [tuple(int(v) for v in s.split("x")) for s in next(it).split(",")]
        elif a == "--ranks":
            ranks = [int(v) for v in next(it).split(",")]
        elif a == "--nev":
            nev = int(next(it))
        elif a == "--timeout":
            timeout = float(next(it))
        else:
            print(f"bench trilayer: unknown option {a!r}; options: --sizes NXxNY,... --ranks 1,2 "
                  "--nev N --timeout S", file=sys.stderr)
            return 2
    if comm.rank != 0:
        return 0

    print(f"# trilayer benchmark on {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f} (timings on a shared machine scale with the load)")
    # 1. k_y path, Fig. 2 system
    p = dict(nx=25, ny=800, n_fm=1, gamma=0.8, mu=-0.2, temperature=0.01,
             m_left=[1.0, 0, 0], m_right=[0, 1.0, 0])
    lat = build_lattice(p)
    t0 = time.perf_counter()
    sol = tc.solve(lat, 0.01, "ky", SerialComm())
    t_ky = time.perf_counter() - t0
    print(f"ky path, Fig. 2 system (nx 25, ny 800, {lat.n_states} states, 401 blocks of 75): "
          f"{t_ky:.3f} s on 1 rank; F = {sol['F']:.10g}")

    # 2. dense vs sparse
    print("\n| N states | nx x ny | dense s | dense peak MB | " +
          " | ".join(f"sparse {r}r s | sparse {r}r peak MB/rank (base)" for r in ranks) + " | windows |")
    print("|---|---|---|---|" + "---|---|" * len(ranks) + "---|")
    rows = []
    for nx, ny in sizes:
        d = _spawn("dense", nx, ny, nev, 1, timeout)
        row = {"N": nx * ny * 3, "dense": d}
        for r in ranks:
            row[r] = _spawn("sparse", nx, ny, nev, r, timeout)
        rows.append(row)

        def mb(res):
            if "peak_kb" not in res:
                return "-"
            return f"{max(res['peak_kb']) / 1024:.0f} ({max(res['base_kb']) / 1024:.0f})"
        cells = [f"{row['N']}", f"{nx} x {ny}", f"{d.get('seconds', float('nan')):.2f}", mb(d)]
        for r in ranks:
            cells += [f"{row[r].get('seconds', float('nan')):.2f}", mb(row[r])]
        w = row[ranks[0]].get("windows", "-")
        cells.append(str(w))
        print("| " + " | ".join(cells) + " |", flush=True)
        for r in ranks:
            if "F" in d and "F" in row[r]:
                rel = abs(row[r]["F"] - d["F"]) / abs(d["F"])
                if rel > 1e-9:
                    print(f"  warning: F sparse ({r} ranks) vs dense differ by {rel:.1e} (relative)")
    # 3. crossover
    N = [row["N"] for row in rows]
    td = [row["dense"].get("seconds", np.nan) for row in rows]
    print()
    for r in ranks:
        ts = [row[r].get("seconds", np.nan) for row in rows]
        faster = [n for n, a, b in zip(N, ts, td) if a < b]
        fd, fs = _fit(N, td), _fit(N, ts)
        fit_txt = ""
        if fd and fs:
            fit_txt = f" (fits: dense ~ N^{fd[0]:.2f}, sparse ~ N^{fs[0]:.2f})"
        if faster:
            print(f"crossover ({r} rank{'s' if r > 1 else ''}): sparse faster than dense from N = "
                  f"{min(faster)} states (measured){fit_txt}")
        elif fd and fs and fd[0] > fs[0]:
            n_x = float(np.exp((fs[1] - fd[1]) / (fd[0] - fs[0])))
            print(f"crossover ({r} rank{'s' if r > 1 else ''}): not within the measured sizes; "
                  f"extrapolated N ~ {n_x:.0f} states{fit_txt}")
        else:
            print(f"crossover ({r} rank{'s' if r > 1 else ''}): none found, sparse not faster and "
                  f"not scaling better within the measured sizes{fit_txt}")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        sys.exit(worker(sys.argv[2:]))
    sys.exit(main(sys.argv[1:], world()))
