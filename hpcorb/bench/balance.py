"""``./run bench balance``: static vs dynamic chunk dealing on P = 16, 64, 256 ranks.

1. Measures the per-k cost of the slab_kubo film kernel (W(110) SK film with
   SOC, ``--layers`` layers; eigendecomposition + the Table-1 operator set +
   the histogram, one Fermi energy) on ``--nk`` points of a regular 2D mesh,
   by per-process CPU time (``time.process_time``; BLAS one thread) because
   the machine is shared.  The spread of these costs (band counts in the
   energy window) is what unbalances a static dealing.
2. Simulates the 400 x 400 production mesh (its default chunk size) on P
   ranks, each chunk costing the chunk size times a per-k cost drawn from
   the measured ones (all k of a chunk equally expensive: neighbouring k
   cost alike, the pessimistic case), in two ways:
   - static (the engine before this change): round-robin rounds, rank r
     computes chunk ``i * P + r`` of round i, and every ``sync_seconds``
     (2 s; at least one round) all ranks meet in a blocking allreduce;
   - dynamic (the engine now): a shared counter hands the next chunk to the
     first free rank; the sync is a non-blocking allreduce (nobody waits),
     each fetch costs the measured fetch-and-add latency.
   Efficiency = total work / (P x makespan).  Also for the issue's quoted
   film spread (13 %, normal) and for the irreducible mesh (40,201 points).
"""
from __future__ import annotations

import argparse
import heapq
import os
import statistics
import time

import numpy as np
from ..calculations.slab_kubo import Setup
from ..kernels import kubo as K
from ..models.build import build_model
from ..parallel import SerialComm
from ..parallel.engine import ChunkQueue, default_chunk_size



def measure_film(layers, nk, repeat):
    m = build_model({"material": "W", "parametrization": "sk", "spin": True, "soc_scale": 1.0,
                     "surface": "110", "layers": layers}, periodic=2)
    st = Setup(m, "film", 0.1)
    n = int(np.ceil(np.sqrt(nk)))
    ks = (np.stack(np.meshgrid(np.arange(n), np.arange(n), indexing="ij"), -1).reshape(-1, 2) + 0.5) / n
    ks = ks[:nk]
    E0 = np.linalg.eigvalsh(st.hk(np.zeros(2))[0])
    ef = float(E0[int(round(st.model.electrons))])
    mu = np.array([ef])
    edges = K.histogram_edges(mu, 0.0)
    w_lo, w_hi = K.window(mu, 0.0)
    holes = bool(np.sum(E0 >= w_lo) < np.sum(E0 < w_hi))
    hist = np.zeros((len(edges) + 1, 2, K.N_OPS, 2, st.nl))
    costs = []
    for k in ks:
        ts = []
        for _ in range(repeat):
            t0 = time.process_time()
            E, c = st.k_contrib(k, w_lo, w_hi, holes)
            K.accumulate(hist, edges, E, c)
            ts.append(time.process_time() - t0)
        costs.append(statistics.median(ts))
    return np.array(costs), st.model.norb


def fetch_latency(n=2000):
    """Seconds per fetch-and-add of the serial queue (the MPI one was ~30 us on this machine)."""
    q = ChunkQueue(SerialComm(), n)
    t0 = time.perf_counter()
    while q.next() is not None:
        pass
    return (time.perf_counter() - t0) / n


def simulate(chunk_costs, P, sync_seconds=2.0, fetch=3e-5):
    """(static efficiency, dynamic efficiency) of dealing ``chunk_costs`` (s) to P ranks."""
    c = np.asarray(chunk_costs)
    work = c.sum()
    # static: round-robin rounds, blocking sync after every batch of rounds
    n_rounds = -(-len(c) // P)
    pad = np.zeros(n_rounds * P)
    pad[:len(c)] = c
    rounds = pad.reshape(n_rounds, P)
    per_round = rounds.mean(axis=1).max()           # rank 0's pace sets the batch
    batch = max(1, int(sync_seconds / max(per_round, 1e-9)))
    span_static = 0.0
    for b in range(0, n_rounds, batch):
        span_static += rounds[b:b + batch].sum(axis=0).max()
    # dynamic: next chunk to the first free rank
    free = [0.0] * P
    heapq.heapify(free)
    for x in c:
        t = heapq.heappop(free)
        heapq.heappush(free, t + fetch + x)
    span_dyn = max(free)
    return work / (P * span_static), work / (P * span_dyn)


def main(argv, comm) -> int:
    ap = argparse.ArgumentParser(prog="./run bench balance", description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, default=15)
    ap.add_argument("--nk", type=int, default=64, help="k-points whose cost is measured")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)
    if comm.rank != 0:
        return 0
    print(f"hpcorb balance benchmark; load {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores "
          f"(BLAS threads {os.environ.get('OPENBLAS_NUM_THREADS', '?')}; per-process CPU time, medians)")
    costs, nb = measure_film(a.layers, a.nk, a.repeat)
    spread = costs.std() / costs.mean()
    print(f"1. measured per-k cost, W(110) {a.layers} layers ({nb} bands), {len(costs)} k of a regular mesh: "
          f"median {np.median(costs) * 1e3:.1f} ms, min {costs.min() * 1e3:.1f}, max {costs.max() * 1e3:.1f} ms, "
          f"relative spread (std/mean) {100 * spread:.1f} %")
    lat = fetch_latency()
    fetch = max(lat, 3e-5)
    print(f"   queue fetch: {lat * 1e6:.2f} us serial; simulated with {fetch * 1e6:.0f} us "
          "(MPI fetch-and-add measured on this machine)")
    rng = np.random.default_rng(a.seed)
    # the production per-k cost (33 layers, ~0.8 s) sets the sync pacing; the shape is measured
    scale = 0.8 / costs.mean()
    cases = []
    for n_k, what in ((400 * 400, "400x400 full mesh"), (40201, "400x400 irreducible (mmm, 8 ops)")):
        chunk = default_chunk_size(n_k, cost_hint=max(1.0, (594 / 40.0) ** 3))
        sizes = np.full(-(-n_k // chunk), chunk)
        sizes[-1] = n_k - chunk * (len(sizes) - 1)
        cases.append((what, sizes, "measured", rng.choice(costs * scale, size=len(sizes))))
        cases.append((what, sizes, "13 % normal", np.clip(rng.normal(0.8, 0.8 * 0.13, size=len(sizes)),
                                                            0.1, None)))
    print("2. simulated efficiency (work / (P x makespan)), static round-robin vs dynamic queue:")
    print(f"   {'mesh':38s} {'cost spread':12s} {'chunk':>5s} {'chunks':>6s}" +
          "".join(f"   P={P:<4d} static/dynamic" for P in (16, 64, 256)))
    worst = 1.0
    for what, sizes, kind, per_k in cases:
        cc = sizes * per_k
        row = f"   {what:38s} {kind:12s} {sizes[0]:5d} {len(sizes):6d}"
        for P in (16, 64, 256):
            s, d = simulate(cc, P, fetch=fetch)
            row += f"   {s:6.3f} / {d:6.3f}        "
            if P == 256:
                worst = min(worst, d)
        print(row)
    print(f"   dynamic efficiency at 256 ranks, worst case above: {worst:.3f} (target >= 0.95)")
    return 0
