"""Label records are parsed strictly; settings read windows and refuse bad ones clearly."""

from __future__ import annotations

import pytest

from fraudstream.config import load_settings
from fraudstream.errors import ConfigError
from fraudstream.monitor.errors import BadLabelError
from fraudstream.monitor.service import parse_label
from fraudstream.monitor.settings import MonitorSettings, parse_windows


def test_label_records() -> None:
    assert parse_label(b'{"Id": 7, "Class": 1, "LabelTime": "x"}') == (7, 1)
    for bad in (b"{not json", b'{"Id": 7}', b'{"Id": "7", "Class": 1}', b'{"Id": 7, "Class": 2}',
                b'{"Id": true, "Class": 0}', None, b"[1, 2]"):  # fmt: skip
        with pytest.raises(BadLabelError):
            parse_label(bad)


def test_windows_and_retention(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_windows("30s,15m,1h,2d") == {"30s": 30_000, "15m": 900_000, "1h": 3_600_000,
                                              "2d": 172_800_000}  # fmt: skip
    monkeypatch.setenv("FRAUDSTREAM_MONITOR_WINDOWS", "10m,1h")
    monkeypatch.setenv("FRAUDSTREAM_MONITOR_LABEL_HORIZON", "1d")
    s = load_settings(MonitorSettings)
    assert s.retention_ms() == 3_600_000 + 86_400_000
    monkeypatch.setenv("FRAUDSTREAM_MONITOR_WINDOWS", "1h,soon")
    with pytest.raises(ConfigError, match="FRAUDSTREAM_MONITOR_WINDOWS"):
        load_settings(MonitorSettings)
