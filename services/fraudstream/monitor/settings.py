"""Monitor settings (`FRAUDSTREAM_MONITOR_*`); shared values come from `fraudstream.config`."""

from __future__ import annotations

from pydantic import Field, field_validator

from fraudstream.config import FraudstreamSettings, settings_config
from fraudstream.monitor.state import MAX_EVENTS

__all__ = ["MonitorSettings", "parse_windows"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_windows(text: str) -> dict[str, int]:
    """'15m,1h,1d' -> {'15m': 900000, '1h': 3600000, '1d': 86400000} (name -> ms)."""
    out: dict[str, int] = {}
    for part in (p.strip() for p in text.split(",")):
        if len(part) < 2 or part[-1] not in _UNITS or not part[:-1].isdigit() or int(part[:-1]) < 1:
            raise ValueError(f"window {part!r} is not N followed by s, m, h or d (e.g. 1h)")
        out[part] = int(part[:-1]) * _UNITS[part[-1]] * 1000
    return out


class MonitorSettings(FraudstreamSettings):
    """Everything `fraudstream monitor` needs; topics and endpoints from the shared Settings."""

    model_config = settings_config("MONITOR_")

    windows: str = Field(
        "15m,1h,1d",
        description="Sliding windows over the time events were scored (N s|m|h|d, comma list); "
        "each is a `window` label on every quality gauge.",
    )
    label_horizon: str = Field(
        "7d",
        description="How long a score waits for its label (and a label for its score) before "
        "it is evicted; labels later than this are not counted.",
    )
    max_events: int = Field(
        5_000_000,
        ge=1,
        le=MAX_EVENTS,
        description="Most scores (and most labels waiting for their score) held, whatever the "
        "traffic (38 bytes of columns + 8-16 of index each); beyond it the oldest are "
        "dropped and a window reaching back to them exports no figures until it has passed "
        "them (fraudstream_monitor_window_complete is 0).",
    )
    top_k: int = Field(100, ge=1, description="Investigation budget: alerts looked at per day.")
    prevalence: float = Field(
        0.00172,
        gt=0,
        lt=1,
        description="Fraud prevalence in production (the dataset's 0.172 %), for the "
        "prevalence-weighted precision.",
    )
    port: int = Field(8002, ge=0, le=65535, description="/metrics, /healthz port (0 = off).")
    group: str = Field("fraudstream-monitor", description="Consumer group (offsets unused).")
    refresh_s: float = Field(5.0, gt=0, description="How often the gauges are recomputed.")

    @field_validator("windows", "label_horizon")
    @classmethod
    def _windows(cls, v: str) -> str:
        parse_windows(v)
        return v

    def window_ms(self) -> dict[str, int]:
        return parse_windows(self.windows)

    def retention_ms(self) -> int:
        horizon = next(iter(parse_windows(self.label_horizon).values()))
        return max(self.window_ms().values()) + horizon
