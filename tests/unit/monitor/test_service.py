"""Label records are parsed strictly; settings read windows and refuse bad ones clearly; a
window cut by the state cap is exported as incomplete, without quality series."""

from __future__ import annotations

import pytest
from prometheus_client import generate_latest

from fraudstream.config import load_settings
from fraudstream.errors import ConfigError
from fraudstream.monitor.errors import BadLabelError
from fraudstream.monitor.service import Monitor, parse_label
from fraudstream.monitor.settings import MonitorSettings, parse_windows
from fraudstream.monitor.state import ScoreRow


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


def test_a_window_cut_by_the_cap_is_withheld_and_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAUDSTREAM_MONITOR_WINDOWS", "1m,1h")
    monkeypatch.setenv("FRAUDSTREAM_MONITOR_MAX_EVENTS", "100")
    now = 1_780_000_000.0
    mon = Monitor(load_settings(MonitorSettings), bootstrap="127.0.0.1:1",
                  registry_url="http://127.0.0.1:1", topic_scores="s", topic_labels="l",
                  clock=lambda: now)  # fmt: skip
    t0 = int(now * 1000) - 1_000 * 130
    for i in range(130):  # one a second for 130 s; the 30 oldest exceed the cap
        mon.state.add_score(i, ScoreRow("v1", 0.5, i % 2 == 0, t0 + 1_000 * i))
        mon.state.add_label(i, int(i % 4 == 0), t0 + 1_000 * i)
    mon.refresh()
    text = generate_latest(mon.metrics.registry).decode()
    assert 'fraudstream_monitor_window_complete{window="1m"} 1.0' in text
    assert 'fraudstream_monitor_window_complete{window="1h"} 0.0' in text
    assert 'fraudstream_monitor_precision{model_version="v1",window="1m"} 0.5' in text
    assert 'window="1h"' not in text.replace('window_complete{window="1h"}', "")
    assert "fraudstream_monitor_dropped_scores_total 30.0" in text
    assert "fraudstream_monitor_scores_held 100.0" in text
    mon.refresh()  # counted once, not again on every refresh
    text = generate_latest(mon.metrics.registry).decode()
    assert "fraudstream_monitor_dropped_scores_total 30.0" in text


def test_what_leaves_the_retention_unmatched_is_exported() -> None:
    now = 1_780_000_000.0
    settings = MonitorSettings(windows="1m", label_horizon="1m")
    mon = Monitor(settings, bootstrap="127.0.0.1:1", registry_url="http://127.0.0.1:1",
                  topic_scores="s", topic_labels="l", clock=lambda: now)  # fmt: skip
    t0 = int(now * 1000) - 300_000  # older than the 2-minute retention
    for i in range(10):
        mon.state.add_score(i, ScoreRow("v1", 0.5, False, t0))
    mon.state.add_label(3, 1, t0)
    mon.state.add_label(99, 1, t0)  # its score never came
    mon.refresh()
    mon.refresh()  # counted once
    text = generate_latest(mon.metrics.registry).decode()
    assert "fraudstream_monitor_expired_unlabelled_total 9.0" in text
    assert "fraudstream_monitor_expired_labels_total 1.0" in text
    assert f"fraudstream_monitor_state_bytes {float(mon.state.nbytes())}" in text
    assert mon.state.nbytes() > 1024 * 38  # the ring's first 1,024 slots
