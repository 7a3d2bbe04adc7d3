"""Physics entry points: one module per calculation type (``hpcorb/api/<type>.py``).

Each defines the function ``<type>(model, *, kmesh, context, **keys) -> Result``
(bilayer, interface, trilayer: no model) that does the work, taking the
calculation's keys already validated (every key present, defaults filled)
and a :class:`hpcorb.context.RunContext`.  Users call the validating public
wrappers ``hpcorb.<type>(...)`` (:mod:`hpcorb.public`); the deck path calls
the same function through the deck adapter (``hpcorb/calculations/<type>.py``).
Shared k-space stages (mesh, spin degeneracy, eigenvalue histogram and
Fermi level) are in :mod:`hpcorb.api.kspace`.  This package imports nothing
itself, so ``import hpcorb.api.dos`` loads only what dos needs.
"""
