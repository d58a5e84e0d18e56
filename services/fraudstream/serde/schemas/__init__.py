"""Avro schemas shipped with the package (`.avsc` files beside this module)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import fastavro

__all__ = ["SCHEMA_NAMES", "load_schema", "parsed_schema"]

SCHEMA_NAMES = ("raw_event", "preprocessed", "live", "score", "alert")


@cache
def load_schema(name: str) -> dict[str, Any]:
    """The schema `name` as a JSON dict (raises KeyError for an unknown name)."""
    if name not in SCHEMA_NAMES:
        raise KeyError(f"unknown schema {name!r}; known: {', '.join(SCHEMA_NAMES)}")
    text = resources.files(__package__).joinpath(f"{name}.avsc").read_text()
    return dict(json.loads(text))


@cache
def parsed_schema(name: str) -> Any:
    """The schema `name` parsed by fastavro (for schemaless reads and writes)."""
    return fastavro.parse_schema(load_schema(name))
