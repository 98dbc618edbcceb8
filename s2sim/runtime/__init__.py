"""The firmware-facing API: the only part of s2sim that firmware models import."""
from .api import Core, Firmware
from .cost import CostModel
from .shared import SharedState

__all__ = ["Core", "Firmware", "CostModel", "SharedState"]
