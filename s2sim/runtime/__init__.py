"""The firmware-facing API: the only part of s2sim that firmware models import."""
from .api import Core, Firmware
from .cost import CostModel, CostTable, expf_line, kernel_line, op_line
from .optimiser_costs import ADAM_COSTS
from .shared import GroupKernel, TickGroup, grouping_enabled

__all__ = ["Core", "Firmware", "CostModel", "CostTable", "expf_line", "kernel_line", "op_line",
           "GroupKernel", "TickGroup", "grouping_enabled", "ADAM_COSTS"]
