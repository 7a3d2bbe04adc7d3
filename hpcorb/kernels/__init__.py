"""Per-k / per-block physics: pure numpy, no MPI, no I/O."""
