"""A py-spinnaker2-compatible front end: ``from s2sim.spinnaker2 import hardware, snn, helpers``
replaces ``from spinnaker2 import hardware, snn, helpers`` and the script runs on the simulated chip,
with the same recordables plus s2sim's profile (time_done per PE, packets, SRAM, energy).
See ``README.md`` in this folder for what is supported and where each semantic comes from."""
from . import hardware, helpers, snn
from .errors import SpiNNaker2Error, install_excepthook

__all__ = ["hardware", "helpers", "snn", "SpiNNaker2Error"]

install_excepthook()
