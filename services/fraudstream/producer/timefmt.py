"""Event timestamps: `Timestamp` = start + `Time` seconds, ISO-8601 in UTC with a `Z`.

Vectorised through numpy datetime64 for the generator's hot path; the scalar form is for
the CSV loader. Both give identical strings (checked in the unit tests).
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from fraudstream.producer.errors import SourceError


def parse_start(value: str | datetime | None) -> datetime:
    """An aware UTC datetime from ISO-8601 text, 'now', a datetime or None (= now)."""
    if value is None or (isinstance(value, str) and value.strip().lower() == "now"):
        return datetime.now(UTC).replace(microsecond=0)
    if isinstance(value, datetime):
        dt = value
    else:
        text = value.strip()
        try:
            dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise SourceError(
                f"start {value!r} is not an ISO-8601 timestamp (e.g. 2013-09-01T00:00:00Z) or 'now'"
            ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).replace(microsecond=0)


def start_epoch(start: datetime) -> int:
    """Whole unix seconds of a (UTC) start."""
    return int(start.timestamp())


def iso_at(epoch: int, seconds: int) -> str:
    """ISO-8601 UTC text of `epoch + seconds`, e.g. '2013-09-01T00:00:07Z'."""
    return datetime.fromtimestamp(epoch + seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_array(epoch: int, seconds: npt.NDArray[np.integer]) -> list[str]:
    """`iso_at` for a whole array at once (numpy, no per-element Python datetime)."""
    stamps = (np.asarray(seconds, dtype=np.int64) + epoch).astype("datetime64[s]")
    out: list[str] = np.char.add(np.datetime_as_string(stamps, unit="s"), "Z").tolist()
    return out
