"""Dynamic chunk dealing and the order-independent (double-double) reduction
of the k-mesh engine."""
import numpy as np
import pytest

from hpcorb.parallel import SerialComm, world
from hpcorb.parallel.checkpoint import Checkpoint
from hpcorb.parallel.engine import ChunkQueue, Plan, _dd_add, run_chunks


def wild(start, stop):
    """Items whose plain double sum depends on the order: huge terms that cancel."""
    i = np.arange(start, stop, dtype=float)
    big = np.where(i % 3 == 0, 1e13, np.where(i % 3 == 1, -1e13, 0.0))
    x = big + np.sin(1.7 * i) + 1e-3 * np.cos(0.3 * i)
    z = x * (1 + 0.5j) + 1j * np.exp(-i / 100.0)
    return x, z


def wild_kernel(start, stop):
    x, z = wild(start, stop)
    return {"x": np.array([x.sum(), (x ** 2).sum() * 0 + x[::-1].sum()]), "z": z.sum(keepdims=True),
            "n": np.array(stop - start, dtype=np.int64)}


T = {"x": ((2,), float), "z": ((1,), complex), "n": ((), np.int64)}


def test_dd_sum_is_exact_and_order_free():
    rng = np.random.default_rng(3)
    vals = np.concatenate([rng.normal(size=200) * 10.0 ** rng.integers(-2, 12, size=200),
                           rng.normal(size=200)])
    vals = np.concatenate([vals, -vals[:200]])        # the big ones cancel exactly
    exact = float(np.sum(vals[200:400]))               # what remains
    sums = []
    for perm in range(5):
        order = rng.permutation(len(vals))
        hi, lo = np.zeros(1), np.zeros(1)
        for v in vals[order]:
            _dd_add(hi, lo, np.array([v]))
        sums.append((hi + lo)[0])
    assert len(set(sums)) == 1                         # bit for bit, any order
    assert sums[0] == pytest.approx(exact, rel=1e-13)
    plain = {np.sum(vals[rng.permutation(len(vals))]) for _ in range(5)}
    assert len(plain) > 1                              # a plain sum is not


def test_serial_queue_hands_out_everything_once():
    q = ChunkQueue(SerialComm(), 5)
    got = []
    while (i := q.next()) is not None:
        got.append(i)
    assert got == [0, 1, 2, 3, 4] and q.next() is None


def test_restart_of_cancelling_sum_is_bitwise(tmp_path):
    plan = Plan(301, 7)
    ref = run_chunks(plan, wild_kernel, T, SerialComm())
    ck = Checkpoint(str(tmp_path / "w.ckpt"), "h")
    calls = {"n": 0}

    def failing(a, b):
        calls["n"] += 1
        if calls["n"] > 20:
            raise RuntimeError("stop")
        return wild_kernel(a, b)

    with pytest.raises(RuntimeError):
        run_chunks(plan, failing, T, SerialComm(), checkpoint=ck, checkpoint_interval=1e-9,
                   sync_seconds=0.0)
    out = run_chunks(plan, wild_kernel, T, SerialComm(), checkpoint=Checkpoint(ck.path, "h"))
    for n in T:
        np.testing.assert_allclose(out[n], ref[n], rtol=1e-15, atol=0)
    assert out["n"] == 301


@pytest.mark.mpi
def test_queue_deals_each_position_once():
    comm = world()
    for n in (0, 1, 2, 17, 400):
        q = ChunkQueue(comm, n)
        got = []
        while (i := q.next()) is not None:
            got.append(i)
        q.close()
        every = sorted(sum(comm.allgather(got), []))
        assert every == list(range(n))


@pytest.mark.mpi
@pytest.mark.parametrize("sync", [0.0, 2.0])
def test_dynamic_engine_matches_serial_bitwise(sync):
    """Whichever rank computes which chunk, the cancelling sums agree with the
    serial run to the last bit (double-double accumulation, fixed tree)."""
    comm = world()
    plan = Plan(1001, 3)
    seen = []

    def kern(a, b):
        seen.append(a)
        # uneven cost: some chunks are slower, so the dealing depends on timing
        if (a // 3) % 7 == comm.rank:
            sum(range(20000))
        return wild_kernel(a, b)

    out = run_chunks(plan, kern, T, comm, sync_seconds=sync)
    ref = run_chunks(plan, wild_kernel, T, SerialComm())
    every = sorted(sum(comm.allgather(seen), []))
    assert every == [plan.bounds(c)[0] for c in range(plan.n_chunks)]   # each chunk once
    for n in T:
        np.testing.assert_allclose(out[n], ref[n], rtol=1e-15, atol=0)
    st = run_chunks(plan, lambda a, b: {"r": wild(a, b)[1]}, {"r": ((), complex)}, comm,
                    mode="stack", sync_seconds=sync)
    np.testing.assert_array_equal(st["r"], wild(0, 1001)[1])


@pytest.mark.mpi
def test_static_fallback_gives_the_same_bits(monkeypatch):
    """HPCORB_STATIC_DEAL=1 (no one-sided MPI): round-robin dealing, same results."""
    monkeypatch.setenv("HPCORB_STATIC_DEAL", "1")
    comm = world()
    q = ChunkQueue(comm, 10)
    assert q.win is None
    mine = []
    while (i := q.next()) is not None:
        mine.append(i)
    assert mine == list(range(comm.rank, 10, comm.size))
    plan = Plan(301, 4)
    out = run_chunks(plan, wild_kernel, T, comm, sync_seconds=0.0)
    ref = run_chunks(plan, wild_kernel, T, SerialComm())
    for n in T:
        np.testing.assert_allclose(out[n], ref[n], rtol=1e-15, atol=0)
