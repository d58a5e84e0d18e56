"""Streaming loader for the Kaggle/ULB `creditcard.csv` format (header Time,V1..V28,Amount,Class).

Rows are read one at a time (constant memory whatever the file size) and checked with cheap
tests instead of a pydantic model per row: 31 columns, finite numbers, whole non-negative
`Time`, `Amount` >= 0, `Class` 0/1 (quoted or not; empty = unknown). A bad row is skipped,
counted and written to the rejects file, or, in strict mode, stops the read with its line
number. A header-less pandas index column (as in some published samples) is dropped. Bytes that
are not UTF-8 are replaced (U+FFFD), so such a row fails its number checks like any bad row.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from fraudstream.events import CSV_COLUMNS, RAW_FIELDS
from fraudstream.producer.errors import BadRowError, CsvFormatError
from fraudstream.producer.timefmt import iso_at, parse_start, start_epoch
from fraudstream.producer.users import user_ids, user_index

MAX_LISTED = 10
_N = len(CSV_COLUMNS)  # 31
_OUT_KEYS = RAW_FIELDS[4:-1]  # V1..V28, Amount


@dataclass
class CsvReport:
    """What a read found: data rows seen, rows yielded, and the bad rows (first 10 listed)."""

    path: str = ""
    rows: int = 0
    good: int = 0
    bad: int = 0
    max_time: int = -1
    first_bad: list[tuple[int, str]] = field(default_factory=list)

    def add_bad(self, line: int, reason: str) -> None:
        self.bad += 1
        if len(self.first_bad) < MAX_LISTED:
            self.first_bad.append((line, reason))

    def summary(self) -> str:
        """One line for the end-of-run summary."""
        text = f"{self.path}: {self.rows} rows, {self.good} good, {self.bad} bad"
        if self.first_bad:
            listed = "; ".join(f"line {ln}: {why}" for ln, why in self.first_bad)
            more = f" (first {len(self.first_bad)}: {listed})"
            text += more
        return text


def _header(row: list[str]) -> list[str]:
    return [c.strip().strip('"').lstrip("\ufeff") for c in row]


def _slow_values(texts: list[str]) -> list[float]:
    """Parse V1..V28, Amount one by one, naming the first bad column."""
    values: list[float] = []
    for name, text in zip(_OUT_KEYS, texts, strict=True):
        try:
            v = float(text)
        except ValueError:
            raise ValueError(f"{name}: not a number: {text!r}") from None
        if not math.isfinite(v):
            raise ValueError(f"{name}: not a finite number: {text!r}")
        values.append(v)
    return values


def _check_row(fields: list[str], ncols: int, skip: int) -> tuple[int, list[float], int | None]:
    """(Time, [V1..V28, Amount], Class) or ValueError with the reason."""
    if len(fields) != ncols:
        raise ValueError(f"expected {ncols} columns, got {len(fields)}")
    if skip:
        fields = fields[skip:]
    try:
        t = float(fields[0])
    except ValueError:
        raise ValueError(f"Time: not a number: {fields[0]!r}") from None
    if not math.isfinite(t) or t < 0 or t != int(t):
        raise ValueError(f"Time: not a whole number of seconds >= 0: {fields[0]!r}")
    try:  # fast path: all 29 parse and their sum is finite (so each one is)
        values = list(map(float, fields[1:30]))
        ok = math.isfinite(sum(values))
    except ValueError:
        ok = False
    if not ok:
        values = _slow_values(fields[1:30])
    if values[-1] < 0:
        raise ValueError(f"Amount: negative: {fields[29]!r}")
    c = fields[30].strip().strip('"')
    label: int | None
    if c in ("0", "1"):
        label = int(c)
    elif c == "":
        label = None
    else:
        try:
            f = float(c)
        except ValueError:
            raise ValueError(f"Class: not 0, 1 or empty: {fields[30]!r}") from None
        if f not in (0.0, 1.0):
            raise ValueError(f"Class: not 0, 1 or empty: {fields[30]!r}")
        label = int(f)
    return int(t), values, label


def read_csv_events(
    path: str | Path,
    *,
    start: str | datetime | None = "2013-09-01T00:00:00Z",
    users: Sequence[str] | Sequence[dict[str, Any]] | int = 1000,
    strict: bool = False,
    rejects: str | Path | None = None,
    report: CsvReport | None = None,
    id_offset: int = 0,
    time_offset: int = 0,
    seed: int = 42,
) -> Generator[dict[str, Any], None, None]:
    """Stream raw-event dicts from a creditcard.csv file.

    Opens the file and checks the header now (`CsvFormatError`: missing file, wrong header);
    rows are read lazily. `Id` = data-row number (0 = the first row after the header) + `id_offset`;
    `Timestamp` = `start` + `Time`; `User` = a fixed function of `Id` over `users` (ids, user
    dicts, or a count for `make_users(count, seed)`). Bad rows: counted in `report`, written
    to `rejects` (CSV: line, reason, raw fields), or `BadRowError` when `strict`.
    """
    p = Path(path)
    if not p.is_file():
        raise CsvFormatError(f"{p}: no such file")
    try:
        fh = p.open(newline="", encoding="utf-8", errors="replace")
    except OSError as exc:
        raise CsvFormatError(f"{p}: cannot open ({exc.strerror})") from None
    reader = csv.reader(fh)
    try:
        first = next(reader, None)
    except csv.Error as exc:
        fh.close()
        raise CsvFormatError(f"{p}: unreadable header ({exc})") from None
    if first is None:
        fh.close()
        raise CsvFormatError(f"{p}: empty file, expected header {','.join(CSV_COLUMNS)}")
    head = _header(first)
    skip = 0
    if len(head) == _N + 1 and head[0] in ("", "Unnamed: 0", "index"):
        skip = 1  # a pandas index column
        head = head[1:]
    if tuple(head) != CSV_COLUMNS:
        fh.close()
        shown = ",".join(head[:6]) + (",..." if len(head) > 6 else "")
        raise CsvFormatError(
            f"{p}: wrong header {shown!r} ({len(head)} columns); expected "
            f"Time,V1..V28,Amount,Class (31 columns)"
        )
    rep = report if report is not None else CsvReport()
    rep.path = str(p)
    ids = user_ids(users, seed)
    epoch = start_epoch(parse_start(start))
    return _rows(
        fh, reader, rep, ids, epoch, strict, rejects, id_offset, time_offset, _N + skip, skip
    )


def _rows(
    fh: IO[str],
    reader: Any,
    rep: CsvReport,
    ids: list[str],
    epoch: int,
    strict: bool,
    rejects: str | Path | None,
    id_offset: int,
    time_offset: int,
    ncols: int,
    skip: int,
) -> Generator[dict[str, Any], None, None]:
    rej_fh: IO[str] | None = None
    rej: Any = None
    nusers = len(ids)
    last_t = -1
    last_ts = ""

    def reject(line: int, reason: str, fields: list[str]) -> None:
        nonlocal rej_fh, rej
        if strict:
            raise BadRowError(line, reason)
        rep.add_bad(line, reason)
        if rejects is not None:
            if rej_fh is None:
                rej_fh = Path(rejects).open("w", newline="", encoding="utf-8")  # noqa: SIM115
                rej = csv.writer(rej_fh)
                rej.writerow(["line", "reason", "row"])
            rej.writerow([line, reason, ",".join(fields)])

    try:
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:  # e.g. a field over the size limit; the next line is fine
                rep.rows += 1
                reject(reader.line_num, f"CSV syntax error: {exc}", [])
                continue
            line = reader.line_num
            if not fields:
                continue  # blank line
            rep.rows += 1
            try:
                t, values, label = _check_row(fields, ncols, skip)
            except ValueError as exc:
                reject(line, str(exc), fields)
                continue
            eid = rep.rows - 1 + id_offset
            t += time_offset
            if t > rep.max_time:
                rep.max_time = t
            if t != last_t:
                last_t, last_ts = t, iso_at(epoch, t)
            event: dict[str, Any] = {
                "Id": eid,
                "Timestamp": last_ts,
                "User": ids[user_index(eid, nusers)],
                "Time": t,
            }
            event.update(zip(_OUT_KEYS, values, strict=True))
            event["Class"] = label
            rep.good += 1
            yield event
    finally:  # also when the consumer stops early (generator closed)
        fh.close()
        if rej_fh is not None:
            rej_fh.close()
