"""``./run bench hamiltonian``: cost of building H(k) relative to diagonalizing it.

Model: a 33-layer spinful W(110) film (594 orbitals; ``--parametrization
sk`` (default) or ``nrl``; ``--layers`` to change).  For 10^4 k-points the
time to build H(k) (the Bloch sum over R, batched as the k-space
calculations call it; NRL: H(k) and S(k)) is compared with the time to
diagonalize them (LAPACK zheevd via numpy: eigenvalues and eigenvectors, as
the Kubo and diffusion kernels need, and eigenvalues only).  Both are
measured on a subset of ``--sample`` k-points (batches of ``--batch``) and
scaled to 10^4; every time is the median of ``--repeat`` runs.  Prints the
ratio build / diagonalization (it should be a small fraction).
"""
from __future__ import annotations

import argparse
import time

import numpy as np
from .timing import median_time
from ..models.lowdin import inv_sqrt_and_derivative
from ..models.materials import material_model

N_K = 10_000



def main(argv, comm) -> int:
    ap = argparse.ArgumentParser(prog="./run bench hamiltonian", description=__doc__.split("\n")[0])
    ap.add_argument("--parametrization", choices=("sk", "nrl"), default="sk")
    ap.add_argument("--layers", type=int, default=33)
    ap.add_argument("--sample", type=int, default=40, help="k-points measured (scaled to 10^4)")
    ap.add_argument("--batch", type=int, default=20, help="k-points per H(k) call")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    if comm.rank != 0:
        return 0
    t0 = time.perf_counter()
    model = material_model("W", args.parametrization, spin=True, surface="110", layers=args.layers)
    t_model = time.perf_counter() - t0
    n = model.norb
    k = np.random.default_rng(0).random((args.sample, 2))
    batches = [k[i:i + args.batch] for i in range(0, len(k), args.batch)]
    model.hk(k[:2])                          # warm-up (prepares the flattened H(R))

    def build():
        for b in batches:
            model.hk(b)
            if model.S is not None:
                model.sk(b)

    Hs = [model.hk(b) for b in batches]
    if model.S is not None:
        Hs = [X @ H @ X for H, X in ((H, inv_sqrt_and_derivative(model.sk(b))[0]) for H, b in zip(Hs, batches))]

    def diag_vectors():
        for H in Hs:
            np.linalg.eigh(H)

    def diag_values():
        for H in Hs:
            np.linalg.eigvalsh(H)

    scale = N_K / args.sample
    t_build = median_time(build, args.repeat) * scale
    t_vec = median_time(diag_vectors, args.repeat) * scale
    t_val = median_time(diag_values, args.repeat) * scale
    print(f"hamiltonian benchmark: W(110) film, {args.layers} layers, spinful, {args.parametrization}: "
          f"{n} orbitals, {len(model.R)} R vectors, model built in {t_model:.2f} s")
    print(f"  measured on {args.sample} k (batches of {args.batch}), median of {args.repeat}, scaled to {N_K} k:")
    print(f"  build H(k){' and S(k)' if model.S is not None else ''}: {t_build:9.2f} s")
    print(f"  diagonalize (eigenvalues + vectors): {t_vec:9.2f} s")
    print(f"  diagonalize (eigenvalues only):      {t_val:9.2f} s")
    print(f"  ratio build / diagonalize (vectors): {t_build / t_vec:.4f}")
    print(f"  ratio build / diagonalize (values):  {t_build / t_val:.4f}")
    return 0
