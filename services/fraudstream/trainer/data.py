"""The training snapshot in memory, and reading it from a Kaggle-format CSV.

Every source (CSV or Avro topic) produces the same `Dataset`: a float matrix of the raw
columns, the labels (-1 = unlabelled), the reasons rows were skipped, and the lineage that
goes into the model card.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from rich.progress import Progress

from fraudstream.events import NUMERIC_COLUMNS
from fraudstream.trainer.errors import InputSchemaError, TrainerError

__all__ = [
    "LABEL_COLUMN",
    "RAW_COLUMNS",
    "UNLABELED",
    "Dataset",
    "file_sha256",
    "fingerprint",
    "parse_label",
    "read_csv",
    "row_values",
]

log = logging.getLogger(__name__)

# Raw columns every source supplies: the project's one numeric column order
# (events.NUMERIC_COLUMNS: Time, V1..V28, Amount). Time orders the split and feeds the
# optional hour features; the model's own raw inputs are a subset picked by name
# (manifest.raw_inputs), so artifacts do not depend on this order.
RAW_COLUMNS: tuple[str, ...] = NUMERIC_COLUMNS
LABEL_COLUMN = "Class"
UNLABELED = -1


@dataclass
class Dataset:
    """Rows that passed validation, plus what was skipped and where they came from."""

    raw: NDArray[np.float64]  # (n, len(RAW_COLUMNS))
    label: NDArray[np.int64]  # 0 normal, 1 fraud, -1 unlabelled
    skipped: Counter[str] = field(default_factory=Counter)
    lineage: dict[str, Any] = field(default_factory=dict)
    schema_fingerprint: str = ""

    def __len__(self) -> int:
        return int(self.raw.shape[0])

    @property
    def time(self) -> NDArray[np.float64]:
        return self.raw[:, RAW_COLUMNS.index("Time")]

    def column(self, name: str) -> NDArray[np.float64]:
        return self.raw[:, RAW_COLUMNS.index(name)]

    def summary(self) -> str:
        """One line for the log: kept rows by label and skipped rows by reason."""
        counts = Counter(int(v) for v in self.label)
        skipped = ", ".join(f"{k}={v}" for k, v in sorted(self.skipped.items())) or "none"
        return (
            f"{len(self)} rows kept (normal={counts.get(0, 0)}, fraud={counts.get(1, 0)}, "
            f"unlabelled={counts.get(UNLABELED, 0)}); skipped: {skipped}"
        )


def parse_label(value: object) -> int | None:
    """0/1/-1 from int, float or text (`"0"`, `1.0`); None when absent or invalid."""
    if value is None:
        return UNLABELED
    if isinstance(value, str):
        s = value.strip().strip('"')
        if s == "":
            return UNLABELED
        try:
            value = float(s)
        except ValueError:
            return None
    try:
        f = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if f in (0.0, 1.0, -1.0):
        return int(f)
    return None


def row_values(get: dict[str, Any]) -> tuple[list[float] | None, str]:
    """RAW_COLUMNS values from a lower-cased field dict; (None, reason) if one is unusable."""
    out: list[float] = []
    for name in RAW_COLUMNS:
        v = get.get(name.lower())
        if v is None or (isinstance(v, str) and v.strip() == ""):
            return None, "missing_value"
        try:
            f = float(v)
        except (TypeError, ValueError):
            return None, "not_a_number"
        if not math.isfinite(f):
            return None, "non_finite"
        out.append(f)
    if out[RAW_COLUMNS.index("Amount")] < 0:
        return None, "negative_amount"
    return out, ""


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fingerprint(fields: list[str]) -> str:
    """sha256 of the sorted, lower-cased field names the model reads."""
    return hashlib.sha256(",".join(sorted(f.lower() for f in fields)).encode()).hexdigest()


def read_csv(path: Path, max_records: int | None = None) -> Dataset:
    """Read a Kaggle-format CSV (`Time,V1..V28,Amount,Class`; extra columns ignored)."""
    if not path.is_file():
        raise TrainerError(f"CSV file {path} does not exist")
    raws: list[list[float]] = []
    labels: list[int] = []
    skipped: Counter[str] = Counter()
    size = path.stat().st_size
    with (
        path.open("rb") as binary,
        io.TextIOWrapper(binary, newline="") as fh,
        Progress(transient=True) as progress,
    ):
        reader = csv.reader(fh)
        try:
            header = next(reader)
        except StopIteration:
            raise InputSchemaError(f"{path} is empty (no header)") from None
        names = [h.strip().strip('"').lower() for h in header]
        needed = [*RAW_COLUMNS, LABEL_COLUMN]
        missing = [c for c in needed if c.lower() not in names]
        if missing:
            raise InputSchemaError(f"{path}: header lacks fields: {', '.join(missing)}")
        task = progress.add_task(f"reading {path.name}", total=size)
        for i, row in enumerate(reader):
            if max_records is not None and len(raws) >= max_records:
                break
            if i % 20_000 == 0:
                progress.update(task, completed=binary.tell())
            if len(row) != len(names):
                skipped["wrong_column_count"] += 1
                continue
            rec = dict(zip(names, row, strict=True))
            values, reason = row_values(rec)
            label = parse_label(rec["class"])
            if values is None:
                skipped[reason] += 1
                continue
            if label is None:
                skipped["invalid_label"] += 1
                continue
            raws.append(values)
            labels.append(label)
    ds = Dataset(
        raw=np.asarray(raws, np.float64).reshape(-1, len(RAW_COLUMNS)),
        label=np.asarray(labels, np.int64),
        skipped=skipped,
        lineage={
            "source": "csv",
            "path": str(path),
            "sha256": file_sha256(path),
            "rows": len(raws),
        },
        schema_fingerprint=fingerprint([*RAW_COLUMNS, LABEL_COLUMN]),
    )
    log.info("read %s: %s", path, ds.summary())
    return ds
