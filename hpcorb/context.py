"""The run context: communicator, logger, checkpoint store and engine options.

Built once -- by the launcher from a deck (:meth:`RunContext.from_deck`), or
by the public API from its ``comm=``, ``checkpoint=`` and ``log=`` keywords
(:meth:`RunContext.for_api`) -- and passed down to the physics, which hands
``ctx.engine()`` to :func:`hpcorb.parallel.engine.run_chunks`.  Physics code
never reads a global communicator or the deck's [output]/[parallel] tables.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .errors import InputError
from .log import Logger, NullLogger
from .parallel.checkpoint import Checkpoint
from .parallel.comm import MPIComm, SerialComm


@dataclass
class RunContext:
    comm: object = field(default_factory=SerialComm)
    log: object = field(default_factory=NullLogger)
    checkpoint: Checkpoint | None = None
    checkpoint_interval: float = 300.0      # s between checkpoints (0: only on signals)
    progress_interval: float = 10.0         # s between progress lines
    sync_interval: float = 2.0              # s between the ranks' sync points

    def engine(self) -> dict:
        """Keyword arguments of :func:`~hpcorb.parallel.engine.run_chunks`."""
        return {"checkpoint": self.checkpoint, "log": self.log,
                "checkpoint_interval": self.checkpoint_interval,
                "progress_interval": self.progress_interval,
                "sync_seconds": self.sync_interval}

    def intervals(self) -> dict:
        """The engine's interval options alone (for code that manages its own stages)."""
        return {k: v for k, v in self.engine().items() if k not in ("checkpoint", "log")}

    def on_root(self, fn, *args, **kwargs):
        """``fn(*args, **kwargs)`` on rank 0 only, its value broadcast to every rank.

        For reading input files once per job.  An InputError (e.g. a bad file)
        is raised on every rank with rank 0's message; any other exception is
        raised on rank 0 and a RuntimeError naming it on the others.
        """
        comm = self.comm
        if comm.size == 1:
            return fn(*args, **kwargs)
        got = None
        if comm.rank == 0:
            try:
                got = ("ok", fn(*args, **kwargs), None)
            except InputError as e:
                got = ("input", e, str(e))
            except Exception as e:
                got = ("error", e, f"{type(e).__name__}: {e}")
        kind, value, msg = comm.bcast(got if comm.rank == 0 else None)
        if kind == "ok":
            return value
        if comm.rank == 0:
            raise value
        raise (InputError(msg) if kind == "input" else RuntimeError(f"rank 0 failed: {msg}"))

    @classmethod
    def from_deck(cls, deck, comm, log=None, checkpoint=None) -> "RunContext":
        """The context of a deck run: intervals from [output] and [parallel]."""
        return cls(comm=comm, log=log if log is not None else NullLogger(), checkpoint=checkpoint,
                   checkpoint_interval=deck["output"]["checkpoint_interval"],
                   progress_interval=deck["parallel"]["progress_interval"],
                   sync_interval=deck["parallel"]["sync_interval"])

    @classmethod
    def for_api(cls, comm=None, checkpoint=None, log=None, physics_hash=None) -> "RunContext":
        """The context of an API call.

        comm: None (serial), an mpi4py communicator, or an hpcorb SerialComm/MPIComm.
        checkpoint: None, or a file path (resumed when it exists and matches the inputs).
        log: None (quiet), True (progress lines on stderr, rank 0), a file path, or
        any callable taking one string.
        """
        c = wrap_comm(comm)
        if log is None or log is False:
            lg = NullLogger()
        elif log is True:
            lg = Logger(c)
        elif isinstance(log, str):
            lg = Logger(c, path=log, quiet=True)
        else:
            lg = log
        ck = None
        if checkpoint is not None:
            if isinstance(checkpoint, Checkpoint):
                ck = checkpoint
            else:
                ck = Checkpoint(str(checkpoint), physics_hash or "")
                err = None
                if c.rank == 0:
                    try:
                        ck.verify()
                    except InputError as e:
                        err = str(e)
                err = c.bcast(err)
                if err:
                    raise InputError(err)
        return cls(comm=c, log=lg, checkpoint=ck)


def wrap_comm(comm):
    """None -> SerialComm; an mpi4py communicator -> MPIComm; hpcorb comms unchanged."""
    if comm is None:
        return SerialComm()
    if isinstance(comm, SerialComm):            # MPIComm is a SerialComm subclass
        return comm
    if hasattr(comm, "Get_rank") and hasattr(comm, "Allreduce"):
        return MPIComm(comm) if comm.Get_size() > 1 else SerialComm()
    raise InputError(f"comm = {comm!r}: expected an mpi4py communicator or None")
