"""Distributed sparse eigensolvers (PETSc/SLEPc). Dense LAPACK needs no module.

petsc4py/slepc4py are imported lazily inside the functions, so importing
hpcorb never requires them.
"""
