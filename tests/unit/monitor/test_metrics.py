"""Gauges per model version and window; a version gone from a window loses its series."""

from __future__ import annotations

from prometheus_client import generate_latest

from fraudstream.monitor.metrics import MonitorMetrics
from fraudstream.monitor.quality import Quality
from fraudstream.monitor.state import LabelDelays


def _q(precision: float) -> Quality:
    return Quality(events=10, labelled=8, frauds=2, alerts_labelled=3, precision=precision,
                   recall=0.5, precision_at_k=0.4, precision_weighted=0.1, roc_auc=0.9,
                   average_precision=0.7)  # fmt: skip


def test_window_series_are_replaced_per_window() -> None:
    m = MonitorMetrics()
    d = LabelDelays(1.0, 2.0, 3.0)
    m.set_window("1h", {"v1": (_q(0.25), d), "v2": (_q(0.5), d)})
    m.set_window("1d", {"v1": (_q(0.75), d)})
    text = generate_latest(m.registry).decode()
    assert 'fraudstream_monitor_precision{model_version="v1",window="1h"} 0.25' in text
    assert 'fraudstream_monitor_precision{model_version="v2",window="1h"} 0.5' in text
    assert 'fraudstream_monitor_precision{model_version="v1",window="1d"} 0.75' in text
    assert 'fraudstream_monitor_unlabelled{model_version="v1",window="1h"} 2.0' in text
    assert (
        'fraudstream_monitor_label_delay_seconds{model_version="v1",quantile="0.9",window="1h"} 2.0'
        in text
    )
    m.set_window("1h", {"v2": (_q(0.125), d)})
    text = generate_latest(m.registry).decode()
    assert 'model_version="v1",window="1h"' not in text
    assert 'fraudstream_monitor_precision{model_version="v1",window="1d"} 0.75' in text
    assert 'fraudstream_monitor_precision{model_version="v2",window="1h"} 0.125' in text
    m.set_window("1h", {"v2": (_q(0.125), d)})  # the same versions again: nothing to remove
    m.set_window("1d", {})  # every version gone from a window: none of its series left
    text = generate_latest(m.registry).decode()
    assert 'window="1d"' not in text
    assert (
        'fraudstream_monitor_label_delay_seconds{model_version="v2",quantile="1",window="1h"} 3.0'
        in text
    )


def test_every_quality_figure_of_a_window_is_exported_under_its_name() -> None:
    m = MonitorMetrics()
    q = _q(0.25)
    m.set_window("1h", {"v1": (q, LabelDelays(1.0, 2.0, 3.0))})
    text = generate_latest(m.registry).decode()
    counts = ("events", "labelled", "unlabelled", "frauds", "alerts_labelled")
    rates = ("precision", "recall", "precision_at_k", "precision_weighted", "roc_auc")
    for name in (*counts, *rates, "average_precision"):
        value = float(getattr(q, name))
        assert f'fraudstream_monitor_{name}{{model_version="v1",window="1h"}} {value!r}' in text, (
            name
        )
