"""Reports: one module per calculation type (``hpcorb/report/<type>.py``).

Each has ``summary(result) -> str`` (the text ``./run show`` prints) and
``plot(result, stem) -> [paths]`` (PNG figures ``stem + suffix``), working
on a :class:`hpcorb.result.Result` -- computed in memory or read back with
``hpcorb.load`` -- or on an open results file (read into a Result).
"""
