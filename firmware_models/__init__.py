"""Per-core firmware models, one package per algorithm. Firmware imports only ``s2sim.runtime``."""
