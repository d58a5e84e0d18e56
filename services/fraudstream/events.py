"""The ONE event contract: the raw card event (as the seed's source stream has it), its
column lists and the one numeric column order.

`RawCardEvent` is the definition; `RAW_FIELDS` is read off it, the JSON codec
(`serde.jsonevents`) checks the same rules at speed, `serde/schemas/raw_event.avsc` is its
Avro form, and KSQL's flat outputs carry `NUMERIC_COLUMNS` (tests/unit/test_events.py keeps
all of them in agreement).

`Class` is an integer label: 0 normal, 1 fraud, None unknown (live traffic). The Kaggle
CSV writes it quoted (`"0"`), so strings of digits are accepted and converted here once;
KSQL declares it INT and its `IFNULL(Class, -1)` marks unknown labels with -1 downstream.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "CSV_COLUMNS",
    "FEATURE_COLUMNS",
    "NUMERIC_COLUMNS",
    "RAW_FIELDS",
    "V_COLUMNS",
    "RawCardEvent",
]

V_COLUMNS: tuple[str, ...] = tuple(f"V{i}" for i in range(1, 29))
# Model input features, in order: V1..V28 then Amount (Time is optional, see the trainer).
FEATURE_COLUMNS: tuple[str, ...] = (*V_COLUMNS, "Amount")
# The 30 numbers of an event in the project's one column order (the CSV's): every decoded
# matrix (scorer batches, trainer datasets) has these columns; models pick theirs by name.
NUMERIC_COLUMNS: tuple[str, ...] = ("Time", *V_COLUMNS, "Amount")
CSV_COLUMNS: tuple[str, ...] = ("Time", *V_COLUMNS, "Amount", "Class")


class RawCardEvent(BaseModel):
    """One card transaction as published to the source topic (JSON)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    Id: int = Field(ge=0)
    Timestamp: str
    User: str = Field(min_length=1)
    Time: int = Field(ge=0)
    V1: float
    V2: float
    V3: float
    V4: float
    V5: float
    V6: float
    V7: float
    V8: float
    V9: float
    V10: float
    V11: float
    V12: float
    V13: float
    V14: float
    V15: float
    V16: float
    V17: float
    V18: float
    V19: float
    V20: float
    V21: float
    V22: float
    V23: float
    V24: float
    V25: float
    V26: float
    V27: float
    V28: float
    Amount: float = Field(ge=0)
    Class: int | None = None

    @field_validator("Class", mode="before")
    @classmethod
    def _class_from_text(cls, v: Any) -> Any:
        if isinstance(v, str):
            s = v.strip().strip('"')
            if s == "":
                return None
            return int(s)
        return v

    @field_validator("Class")
    @classmethod
    def _class_is_label(cls, v: int | None) -> int | None:
        if v is not None and v not in (0, 1):
            raise ValueError("Class must be 0, 1 or null")
        return v

    @field_validator(*V_COLUMNS, "Amount")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError("must be a finite number")
        return v

    def features(self) -> list[float]:
        """The model's input vector in FEATURE_COLUMNS order."""
        return [float(getattr(self, c)) for c in FEATURE_COLUMNS]


# The event's fields in order, read off the model (one definition).
RAW_FIELDS: tuple[str, ...] = tuple(RawCardEvent.model_fields)
