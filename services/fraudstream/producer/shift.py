"""Shift input features of the replayed events (`fraudstream produce --shift V4=1.5`).

A controlled drift for demos and tests: the scorer's PSI gauge of a shifted feature must
rise above the alert level while the others stay quiet (docs/operations.md, drift alerts).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from fraudstream.events import FEATURE_COLUMNS
from fraudstream.producer.errors import SourceError

__all__ = ["parse_shifts", "shifted"]


def parse_shifts(specs: Iterable[str]) -> dict[str, float]:
    """['V4=1.5', 'Amount=-3'] -> {'V4': 1.5, 'Amount': -3.0} (feature names checked)."""
    out: dict[str, float] = {}
    for spec in specs:
        name, sep, value = spec.partition("=")
        name = name.strip()
        if not sep or name not in FEATURE_COLUMNS:
            raise SourceError(
                f"--shift expects FEATURE=DELTA with FEATURE one of V1..V28, Amount (got {spec!r})"
            )
        try:
            delta = float(value)
        except ValueError:
            raise SourceError(f"--shift {spec!r}: {value!r} is not a number") from None
        if not math.isfinite(delta):
            raise SourceError(f"--shift {spec!r}: the delta must be finite")
        out[name] = out.get(name, 0.0) + delta
    return out


def shifted(
    events: Iterable[Mapping[str, Any]], shifts: Mapping[str, float]
) -> Iterator[dict[str, Any]]:
    """The events with `shifts[name]` added to each named feature (Amount kept >= 0)."""
    for ev in events:
        out = dict(ev)
        for name, delta in shifts.items():
            value = float(out[name]) + delta
            out[name] = max(value, 0.0) if name == "Amount" else value
        yield out
