"""hpcorb: MPI-parallel orbitronics (orbital and spin transport in metals).

Layers, top to bottom (each imports only the ones below it):
``launch``/``cli`` -> ``calculations`` -> ``kernels`` -> ``models`` ->
``parallel`` / ``io``.  Physics kernels are pure numpy.
"""
__version__ = "0.1.0"
