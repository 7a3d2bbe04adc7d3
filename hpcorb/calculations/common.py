"""Helpers shared by the deck adapters: the run context and the model of a deck."""
from __future__ import annotations

from ..context import RunContext
from ..models.build import build_model


def model_from_keys(m: dict, periodic: int | None = None):
    """The model a validated [model] table describes, remembering those keys
    (``model.meta["deck_keys"]``: calculations that rebuild it, e.g. a SOC scan)."""
    model = build_model(m, periodic=periodic)
    model.meta["deck_keys"] = dict(m)
    return model


def deck_model(deck, ctx: RunContext, periodic: int | None = None):
    """Rank 0 builds the deck's model (reading its input files once) and broadcasts it."""
    return ctx.on_root(model_from_keys, deck["model"], periodic)


def context(deck, comm, log=None, checkpoint=None) -> RunContext:
    """``comm`` may already be a RunContext (the launcher's); else build one from the deck."""
    if isinstance(comm, RunContext):
        return comm
    return RunContext.from_deck(deck, comm, log, checkpoint)
