"""Sourced[T]: a parameter value that carries where it came from and how much to trust it.

Accelergy-style audits need every number in the energy/timing tables to declare its provenance, so
the architecture YAML stores each numeric leaf as ``{value, source, confidence[, note]}``.
"""

from __future__ import annotations

from typing import Annotated, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Sourced", "Confidence", "PosInt", "NonNegInt", "PosFloat", "NonNegFloat", "STRICT"]

T = TypeVar("T")
Confidence = Literal["measured", "derived", "estimate"]
STRICT = ConfigDict(extra="forbid", strict=True, validate_assignment=True)

PosInt = Annotated[int, Field(ge=1)]
NonNegInt = Annotated[int, Field(ge=0)]
PosFloat = Annotated[float, Field(gt=0)]
NonNegFloat = Annotated[float, Field(ge=0)]


class Sourced(BaseModel, Generic[T]):
    """A value with its provenance: ``source`` (document or reasoning) and ``confidence``."""

    model_config = STRICT

    value: T = Field(description="the parameter value, in the unit named by its key")
    source: str = Field(min_length=1, description="document, derivation or estimate reasoning")
    confidence: Confidence = Field(description="measured | derived | estimate")
    note: str | None = Field(default=None, description="caveats, conflicts, alternatives")
