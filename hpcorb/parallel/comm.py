"""Communicators passed explicitly through hpcorb (GPAW style).

``SerialComm`` has the same methods as ``MPIComm`` so that physics and
calculation code never needs MPI: they receive a ``comm`` and call
``comm.sum(array)``, ``comm.bcast(obj)`` and so on.  ``world()`` returns an
``MPIComm`` when running under mpiexec/srun with mpi4py available, else a
``SerialComm``.
"""
from __future__ import annotations

import os

import numpy as np


class SerialComm:
    """One rank; every collective is the identity."""
    rank = 0
    size = 1
    mpi = None

    def barrier(self):
        pass

    def bcast(self, obj, root=0):
        return obj

    def gather(self, obj, root=0):
        return [obj]

    def allgather(self, obj):
        return [obj]

    def sum(self, array, root=None):
        """Element-wise sum over ranks (to every rank, or only to ``root``)."""
        return np.array(array, copy=True)

    def max(self, value):
        return value

    def max_array(self, array):
        """Element-wise maximum over ranks (to every rank)."""
        return np.array(array, copy=True)

    def lor(self, flag: bool) -> bool:
        return bool(flag)

    def iallreduce_sum(self, array):
        """Start a non-blocking element-wise sum over ranks: returns (request, out);
        ``request.Test()`` is True once ``out`` holds the sum."""
        return _Done(), np.array(array, copy=True)

    def send(self, array, dest, tag=0):
        raise RuntimeError("send on a single rank")

    def recv(self, buf, source, tag=0):
        raise RuntimeError("recv on a single rank")

    def counter(self):
        """A shared counter (atomic fetch-and-add), or None where unsupported."""
        return _LocalCounter()

    def abort(self, code=1):
        os._exit(code)

    def split(self, color, key=0):
        return self

    @property
    def is_root(self):
        return self.rank == 0


class MPIComm(SerialComm):
    """Thin wrapper over an mpi4py communicator."""

    def __init__(self, comm):
        from mpi4py import MPI
        self.mpi = MPI
        self.comm = comm
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()

    def barrier(self):
        self.comm.Barrier()

    def bcast(self, obj, root=0):
        return self.comm.bcast(obj, root=root)

    def gather(self, obj, root=0):
        return self.comm.gather(obj, root=root)

    def allgather(self, obj):
        return self.comm.allgather(obj)

    def sum(self, array, root=None):
        shape = np.shape(array)         # ascontiguousarray makes 0-d arrays 1-d
        a = np.ascontiguousarray(array)
        out = np.empty_like(a)
        if root is None:
            self.comm.Allreduce(a, out, op=self.mpi.SUM)
            return out.reshape(shape)
        self.comm.Reduce(a, out if self.rank == root else None, op=self.mpi.SUM, root=root)
        return out.reshape(shape) if self.rank == root else None

    def max(self, value):
        return self.comm.allreduce(value, op=self.mpi.MAX)

    def max_array(self, array):
        a = np.ascontiguousarray(array)
        out = np.empty_like(a)
        self.comm.Allreduce(a, out, op=self.mpi.MAX)
        return out

    def lor(self, flag: bool) -> bool:
        return bool(self.comm.allreduce(bool(flag), op=self.mpi.LOR))

    def iallreduce_sum(self, array):
        a = np.ascontiguousarray(array)
        out = np.empty_like(a)
        return self.comm.Iallreduce(a, out, op=self.mpi.SUM), out

    def send(self, array, dest, tag=0):
        self.comm.Send(np.ascontiguousarray(array), dest=dest, tag=tag)

    def recv(self, buf, source, tag=0):
        self.comm.Recv(buf, source=source, tag=tag)
        return buf

    def counter(self):
        """Collective: an int64 counter on rank 0 in an MPI-3 window (passive
        target fetch-and-add), or None where one-sided communication fails."""
        try:
            return _WindowCounter(self)
        except Exception:
            return None

    def abort(self, code=1):
        self.comm.Abort(code)

    def split(self, color, key=0):
        return MPIComm(self.comm.Split(color, key))


class _Done:
    """A request that has completed (the serial iallreduce)."""

    def Test(self):
        return True

    def Wait(self):
        return None


class _LocalCounter:
    def __init__(self):
        self.value = 0

    def fetch_add(self, n=1) -> int:
        v = self.value
        self.value += n
        return v

    def free(self):
        pass


class _WindowCounter:
    """One int64 in an MPI-3 window on rank 0; fetch_add is atomic (passive target)."""

    def __init__(self, c):
        MPI = c.mpi
        self.MPI = MPI
        self.win = MPI.Win.Allocate(8 if c.rank == 0 else 0, 8, comm=c.comm)
        if c.rank == 0:
            self.win.Lock(0, MPI.LOCK_EXCLUSIVE)
            self.win.Put(np.zeros(1, dtype=np.int64), 0)
            self.win.Unlock(0)
        self._one = np.ones(1, dtype=np.int64)
        self._got = np.zeros(1, dtype=np.int64)

    def fetch_add(self, n=1) -> int:
        self._one[0] = n
        self.win.Lock(0, self.MPI.LOCK_SHARED)
        self.win.Fetch_and_op(self._one, self._got, 0, 0, self.MPI.SUM)
        self.win.Unlock(0)
        return int(self._got[0])

    def free(self):
        """Collective."""
        if self.win is not None:
            self.win.Free()
            self.win = None


_WORLD = None


def launched_by_mpi() -> bool:
    env = os.environ
    return any(v in env for v in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK",
                                  "MPI_LOCALNRANKS", "SLURM_STEP_ID"))


def world():
    """The world communicator (MPIComm under a launcher, else SerialComm)."""
    global _WORLD
    if _WORLD is None:
        if launched_by_mpi():
            from mpi4py import MPI
            _WORLD = MPIComm(MPI.COMM_WORLD) if MPI.COMM_WORLD.Get_size() > 1 else SerialComm()
        else:
            _WORLD = SerialComm()
    return _WORLD
