"""s2sim: a cycle-approximate SpiNNaker2 simulator for on-chip learning firmware."""

__version__ = "0.1.0"
__all__ = ["__version__"]
