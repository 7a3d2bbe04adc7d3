"""Parallel layer: communicator wrapper, k-mesh/work-item engine, checkpoints."""
from .comm import SerialComm, MPIComm, world  # noqa: F401
