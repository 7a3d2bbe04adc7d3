"""Deck adapters: one module per ``[calculation] type`` (see :mod:`hpcorb.registry`).

Each module provides
  ``SCHEMA``                 a :class:`hpcorb.schema.Table` named after the type
                             (its keys are also the keyword arguments of ``hpcorb.<type>``);
  ``check_deck(deck)``       (optional) cross-key checks, raising DeckError;
  ``validate(deck)``         (optional) checks that need the model (``./run check``);
  ``call(deck, ctx, model=None) -> Result``  the deck -> physics call (``PHYSICS``),
                             shared by ``./run DECK`` and ``hpcorb.<type>(...)``;
  ``run(deck, comm, log=None, checkpoint=None) -> Result``  the same, context built here;
  ``PHYSICS``                the physics function (``hpcorb/api/<type>.py``);
  ``REPORT``                 the report module (``hpcorb/report/<type>.py``):
                             ``summary(result) -> str``, ``plot(result, stem) -> [paths]``.
See docs/developing.md.
"""
