"""The one error type of ``s2sim.spinnaker2``, and how a script that does not catch it ends.

A script written for py-spinnaker2 usually does not catch errors. So that an unsupported feature
reads as one line (what is not supported and why) rather than a traceback, importing
``s2sim.spinnaker2`` chains a ``sys.excepthook`` that prints ``s2sim.spinnaker2: <message>`` and exits
with status 2 for this error only; every other exception keeps the previous hook.
"""
from __future__ import annotations

import sys

from ..snn import SnnError

EXIT_USAGE = 2


class SpiNNaker2Error(SnnError):
    """A network, model, parameter or call s2sim cannot run as the chip does, in one line."""


def install_excepthook() -> None:
    """Chain the one-line hook in front of the current ``sys.excepthook`` (once)."""
    previous = sys.excepthook
    if getattr(previous, "_s2sim_spinnaker2", False):
        return

    def hook(kind, error, tb):
        if issubclass(kind, SpiNNaker2Error):
            print(f"s2sim.spinnaker2: {error}", file=sys.stderr)
            sys.exit(EXIT_USAGE)
        previous(kind, error, tb)

    hook._s2sim_spinnaker2 = True
    sys.excepthook = hook
