"""Configuration: YAML -> typed, validated objects; --set overrides; one-line errors.

``load_arch`` gives the chip description (every number with its source), ``load_network`` an
experiment file with its arch resolved. Any problem raises ``ConfigError`` naming file and key.
"""

from ..arch import list_arches
from .arch_loader import load_arch
from .arch_model import (Accelerators, ArchConfig, ChipArch, CoreCycles, DmaArch, DramArch,
                         EnergyArch, Kernels, NocArch, PEArch, PerformanceLevel)
from .errors import ConfigError
from .network import (FirmwareSection, LoadedNetwork, NetworkFile, RunConfig, SimulatorConfig,
                      load_network, validate_section)
from .overrides import parse_set
from .simulator import SimulatorSettings, simulator_settings
from .sourced import Sourced

__all__ = [
    "ConfigError", "Sourced",
    "ArchConfig", "ChipArch", "PEArch", "PerformanceLevel", "CoreCycles", "Kernels",
    "Accelerators", "NocArch", "DmaArch", "DramArch", "EnergyArch",
    "load_arch", "list_arches", "parse_set",
    "RunConfig", "SimulatorConfig", "SimulatorSettings", "simulator_settings", "FirmwareSection", "NetworkFile", "LoadedNetwork", "load_network",
    "validate_section",
]
