"""The work-item engine: chunking, sum/stack reductions, checkpoint/restart,
failure propagation, rank independence (the mpi-marked tests)."""
import numpy as np
import pytest

from hpcorb.errors import InputError
from hpcorb.parallel import SerialComm, world
from hpcorb.parallel.checkpoint import Checkpoint
from hpcorb.parallel.engine import Plan, RankFailure, default_chunk_size, run_chunks


def f_items(start, stop):
    """A deterministic, non-trivial per-item value (3-vector per item)."""
    i = np.arange(start, stop, dtype=float)
    return np.stack([np.sin(0.37 * i) * 1e3, np.cos(1.3 * i) ** 3, np.exp(-i / 50.0)], axis=1)


def sum_kernel(start, stop):
    return {"v": f_items(start, stop).sum(axis=0), "n": np.array(stop - start, dtype=float)}


def stack_kernel(start, stop):
    return {"row": f_items(start, stop)}


SUM_T = {"v": ((3,), float), "n": ((), float)}


@pytest.mark.parametrize("n_items,chunk", [(1, 1), (7, 3), (100, 8), (1000, 256), (5, 100)])
def test_sum_matches_direct(n_items, chunk):
    out = run_chunks(Plan(n_items, chunk), sum_kernel, SUM_T, SerialComm())
    direct = f_items(0, n_items).sum(axis=0)
    assert out["n"] == n_items
    np.testing.assert_allclose(out["v"], direct, rtol=1e-13, atol=1e-10)


def test_stack_places_rows():
    out = run_chunks(Plan(53, 5), stack_kernel, {"row": ((3,), float)}, SerialComm(), mode="stack")
    np.testing.assert_array_equal(out["row"], f_items(0, 53))


def test_chunks_do_not_depend_on_rank_count():
    plan = Plan(1003, default_chunk_size(1003))
    edges = [plan.bounds(c) for c in range(plan.n_chunks)]
    assert edges[0][0] == 0 and edges[-1][1] == 1003
    assert all(a[1] == b[0] for a, b in zip(edges, edges[1:]))
    # the default depends on the problem size only
    assert default_chunk_size(160000) == default_chunk_size(160000)
    assert 8 <= default_chunk_size(50 ** 3) <= 256


def _interrupted_then_resumed(tmp_path, fail_after, mode="sum"):
    ck = Checkpoint(str(tmp_path / "c.ckpt"), "hash-A")
    calls = {"n": 0}
    kern = sum_kernel if mode == "sum" else stack_kernel
    tmpl = SUM_T if mode == "sum" else {"row": ((3,), float)}

    def failing(start, stop):
        calls["n"] += 1
        if calls["n"] > fail_after:
            raise RuntimeError("simulated node failure")
        return kern(start, stop)

    plan = Plan(97, 4)
    with pytest.raises(RankFailure, match="simulated node failure"):
        run_chunks(plan, failing, tmpl, SerialComm(), mode=mode, checkpoint=ck,
                   checkpoint_interval=1e-9, sync_seconds=0.0)
    assert ck.exists()
    seen = []

    def counting(start, stop):
        seen.append(start)
        return kern(start, stop)

    out = run_chunks(plan, counting, tmpl, SerialComm(), mode=mode, checkpoint=Checkpoint(ck.path, "hash-A"),
                     sync_seconds=0.0)
    assert len(seen) == plan.n_chunks - fail_after        # done chunks were skipped
    return out


@pytest.mark.parametrize("fail_after", [1, 9, 23])
def test_restart_gives_same_sum(tmp_path, fail_after):
    out = _interrupted_then_resumed(tmp_path, fail_after)
    full = run_chunks(Plan(97, 4), sum_kernel, SUM_T, SerialComm())
    np.testing.assert_allclose(out["v"], full["v"], rtol=1e-12)
    assert out["n"] == 97


def test_restart_stack(tmp_path):
    out = _interrupted_then_resumed(tmp_path, 7, mode="stack")
    np.testing.assert_array_equal(out["row"], f_items(0, 97))


def test_foreign_checkpoint_refused(tmp_path):
    ck = Checkpoint(str(tmp_path / "c.ckpt"), "hash-A")
    run_chunks(Plan(10, 3), sum_kernel, SUM_T, SerialComm(), checkpoint=ck)
    other = Checkpoint(ck.path, "hash-B")
    with pytest.raises(InputError, match="different deck"):
        other.verify()


def test_truncated_checkpoint_refused(tmp_path):
    ck = Checkpoint(str(tmp_path / "c.ckpt"), "hash-A")
    run_chunks(Plan(10, 3), sum_kernel, SUM_T, SerialComm(), checkpoint=ck)
    data = open(ck.path, "rb").read()
    open(ck.path, "wb").write(data[: len(data) // 2])
    with pytest.raises(InputError, match="unreadable"):
        Checkpoint(ck.path, "hash-A").verify()


def test_changed_chunking_refused(tmp_path):
    ck = Checkpoint(str(tmp_path / "c.ckpt"), "hash-A")
    run_chunks(Plan(10, 3), sum_kernel, SUM_T, SerialComm(), checkpoint=ck)
    with pytest.raises(InputError, match="chunking"):
        run_chunks(Plan(10, 4), sum_kernel, SUM_T, SerialComm(), checkpoint=ck)


# ---- under mpiexec -n 2 / -n 3 (./run test) these compare MPI with serial
@pytest.mark.mpi
@pytest.mark.parametrize("n_items,chunk", [(2, 1), (97, 4), (1000, 16)])
def test_ranks_agree_with_serial(n_items, chunk):
    comm = world()
    out = run_chunks(Plan(n_items, chunk), sum_kernel, SUM_T, comm)
    ref = run_chunks(Plan(n_items, chunk), sum_kernel, SUM_T, SerialComm())
    np.testing.assert_allclose(out["v"], ref["v"], rtol=1e-12)
    assert out["n"] == n_items
    st = run_chunks(Plan(n_items, chunk), stack_kernel, {"row": ((3,), float)}, comm, mode="stack")
    np.testing.assert_array_equal(st["row"], f_items(0, n_items))


@pytest.mark.mpi
def test_failure_on_one_rank_ends_all():
    comm = world()

    def kern(start, stop):
        if start == 8:     # the chunk that one rank gets
            raise ValueError("bad k-point")
        return sum_kernel(start, stop)

    with pytest.raises(RankFailure, match="bad k-point"):
        run_chunks(Plan(40, 4), kern, SUM_T, comm, sync_seconds=0.0)


@pytest.mark.mpi
def test_scalar_sums_keep_their_shape(tmp_path_factory):
    """0-d results stay 0-d through the MPI reduction and a checkpoint restart."""
    comm = world()
    assert comm.sum(np.array(2.0)).shape == ()
    folder = comm.bcast(str(tmp_path_factory.mktemp("ck")) if comm.rank == 0 else None)
    ck = Checkpoint(folder + "/s.ckpt", "h")
    calls = {"n": 0}

    def failing(start, stop):
        calls["n"] += 1
        if start >= 20:     # chunks are dealt dynamically: whichever rank gets chunk 10 fails
            raise RuntimeError("stop")
        return {"n": np.array(float(stop - start))}

    with pytest.raises(RankFailure):
        run_chunks(Plan(40, 2), failing, {"n": ((), float)}, comm, checkpoint=ck,
                   checkpoint_interval=1e-9, sync_seconds=0.0)
    out = run_chunks(Plan(40, 2), lambda a, b: {"n": np.array(float(b - a))}, {"n": ((), float)}, comm,
                     checkpoint=ck, sync_seconds=0.0)
    assert out["n"].shape == () and out["n"] == 40
