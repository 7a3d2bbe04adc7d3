"""hpcorb: MPI-parallel orbitronics (orbital and spin transport in metals), a library first.

Python API (serial by default; ``comm=`` an mpi4py communicator for MPI)::

    import hpcorb
    w = hpcorb.model(material="W", spin=True)               # the [model] keys
    r = hpcorb.slab_kubo(w, mode="bulk", kmesh=[16, 16, 16], energies=[-0.5, 0.0, 0.5])
    r["direct/orbital/proper"], r.units("direct/orbital/proper"), r.attrs
    print(r.summary()); r.plot("w_bulk"); r.save("w_bulk.h5")
    hpcorb.load("w_bulk.h5")                                # the same Result, from a file

One function per ``[calculation] type``: ``dos``, ``bands``, ``diffusion``,
``slab_kubo`` (first argument: a model), ``bilayer``, ``interface``,
``trilayer``; keyword arguments are the keys of that calculation's deck
table plus ``kmesh=``, ``comm=``, ``checkpoint=`` and ``log=``.  Bad values
raise :class:`hpcorb.errors.DeckError` (a ValueError) naming the key.

Layers (each imports only those below it; no cycles, no function-level
imports of hpcorb modules -- tests/test_imports.py checks):

    launch                 ./run: subcommands, mpiexec/srun, exit codes, files
    public                 hpcorb.model / hpcorb.<type> / hpcorb.load (validate, context, call)
    config                 TOML decks: [calculation], Deck, load_deck, docs/deck.md
    registry               the calculation types (one name each)
    calculations/<type>    deck adapters: SCHEMA table, cross-checks, deck -> physics call
    api/<type>, report/<type>   physics (-> Result) / summary text and figures (of a Result)
    result, context        Result (+ files) / RunContext (comm, logger, checkpoint, engine options)
    kernels, models, solvers, parallel, io, schema, plot, errors, log
                           pure-numpy kernels; tight-binding models; SLEPc (lazy petsc4py);
                           comm wrappers + k-mesh engine + checkpoints; readers/writers

mpi4py, petsc4py and slepc4py are imported only where an MPI communicator or
the sparse trilayer path is used: ``import hpcorb`` and serial calculations
work without them.
"""
from .version import __version__  # noqa: E402,F401

from .errors import DeckError, InputError  # noqa: E402,F401
from .public import CALCULATIONS, load, model  # noqa: E402,F401
from .result import Result  # noqa: E402,F401

# hpcorb.dos, hpcorb.bands, ...: one function per registered calculation type
globals().update(CALCULATIONS)

__all__ = ["model", "load", "Result", "DeckError", "InputError", "__version__", *CALCULATIONS]
