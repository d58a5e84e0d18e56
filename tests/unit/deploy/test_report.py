"""`fraudstream report` without a Prometheus: durations, legends, windows, API errors (via
httpx's mock transport and a closed port), heatmap bucket maths and the PNG itself."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from fraudstream.local.procs import free_port
from fraudstream.report.collect import (
    PanelData,
    QueryResult,
    Summary,
    Window,
    fetch_panels,
    format_legend,
    parse_duration,
)
from fraudstream.report.errors import (
    PrometheusQueryError,
    PrometheusUnavailableError,
    ReportError,
)
from fraudstream.report.panels import MAIN_PANELS, RATE_INTERVAL, Panel, Query
from fraudstream.report.prometheus import PrometheusClient, Series
from fraudstream.report.render import header, heatmap_grid, render


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("15m", 900), ("1h30m", 5400), ("500ms", 0.5), ("2d", 172800)],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "15", "m", "15x", "1h 30m", "-5m", "0s"])
def test_bad_duration_is_a_clear_error(text):
    with pytest.raises(ReportError, match="bad duration"):
        parse_duration(text)


def test_legend_templates():
    labels = {"topic": "live", "partition": "3", "instance": "a:8000"}
    assert format_legend("{{topic}}/{{ partition }}", labels) == "live/3"
    assert format_legend("lag", labels) == "lag"
    assert format_legend("", {"__name__": "x", "b": "2", "a": "1"}) == "a=1,b=2"


def test_window_sizes_rate_like_grafana():
    end = datetime(2026, 1, 1, tzinfo=UTC)
    w = Window.ending_now(900, points=90, scrape_interval_s=15, end=end)
    assert w.start == end - timedelta(minutes=15)
    assert w.step_s == 10
    assert w.rate_window == "60s"  # max(4 x 15 s, 10 s + 15 s)
    w = Window.ending_now(3600 * 6, points=120, scrape_interval_s=15, end=end)
    assert w.step_s == 180 and w.rate_window == "195s"


def _client(handler) -> PrometheusClient:
    return PrometheusClient(
        "http://prom.test", client=httpx.Client(transport=httpx.MockTransport(handler))
    )


def test_range_query_parses_matrix_and_drops_non_finite_points():
    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen.update(request.url.params)
        return httpx.Response(
            200,
            json={
                "status": "success",
                "data": {
                    "resultType": "matrix",
                    "result": [
                        {"metric": {"le": "1"}, "values": [[10, "1"], [11, "NaN"], [12, "+Inf"]]},
                        {"metric": {"le": "+Inf"}, "values": [[10, "3"]]},
                    ],
                },
            },
        )

    start = datetime.fromtimestamp(100, UTC)
    series = _client(handler).query_range("x", start, start + timedelta(seconds=60), 15)
    assert seen == {"query": "x", "start": "100.000", "end": "160.000", "step": "15"}
    assert series == [
        Series(labels={"le": "1"}, points=[(10.0, 1.0)]),
        Series(labels={"le": "+Inf"}, points=[(10.0, 3.0)]),
    ]


def test_bad_query_names_the_expression_and_the_reason():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            400,
            json={"status": "error", "errorType": "bad_data", "error": "parse error at char 5"},
        )

    with pytest.raises(PrometheusQueryError, match=r"refused query 'sum\(': bad_data: parse error"):
        _client(handler).query("sum(")


def test_something_that_is_not_prometheus_is_reported():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>grafana</html>")

    with pytest.raises(PrometheusUnavailableError, match="not the Prometheus API"):
        _client(handler).query("up")


def test_unreachable_prometheus_is_a_clear_error():
    url = f"http://127.0.0.1:{free_port()}"
    with PrometheusClient(url, timeout=2) as client:
        assert not client.healthy()
        with pytest.raises(PrometheusUnavailableError, match=f"cannot reach Prometheus at {url}"):
            client.query("up")


def test_cli_exits_unavailable_with_one_line_when_prometheus_is_down(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    out = tmp_path / "r.png"
    res = subprocess.run(
        [sys.executable, "-m", "fraudstream", "report", "--prometheus", url, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert res.returncode == 3  # ExitCode.UNAVAILABLE (docs/running.md)
    assert res.stderr.strip() == f"error: Prometheus at {url} is not ready (GET /-/ready failed)"
    assert not out.exists()


def test_fetch_substitutes_the_rate_window_in_every_query():
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.params["query"])
        return httpx.Response(
            200, json={"status": "success", "data": {"resultType": "matrix", "result": []}}
        )

    window = Window.ending_now(600, scrape_interval_s=15)
    data = fetch_panels(_client(handler), MAIN_PANELS, window)
    assert len(asked) == sum(len(p.queries) for p in MAIN_PANELS)
    assert not any(RATE_INTERVAL in q for q in asked)
    assert any(f"[{window.rate_window}]" in q for q in asked)
    assert all(d.empty for d in data)


def _series(labels: dict[str, str], values: list[float], t0: float = 1_700_000_000) -> Series:
    return Series(labels=labels, points=[(t0 + 10 * i, v) for i, v in enumerate(values)])


def test_render_writes_a_png_with_every_panel_kind(tmp_path):
    heat = Panel(title="Score distribution", kind="heatmap", queries=[Query(expr="h")])
    lines = Panel(
        title="Anomaly rate and count",
        unit="percent",
        queries=[Query(expr="a"), Query(expr="b", right_axis=True, unit="count", legend="n")],
    )
    versions = Panel(title="Model version in service", kind="versions", queries=[Query(expr="v")])
    empty = Panel(title="Consumer lag per partition", queries=[Query(expr="l")])
    panels = [
        PanelData(
            heat,
            [
                QueryResult(
                    heat.queries[0],
                    [
                        _series({"le": "0.5"}, [5, 6, 7]),
                        _series({"le": "1"}, [8, 9, 10]),
                        _series({"le": "+Inf"}, [9, 11, 12]),
                    ],
                )
            ],
        ),
        PanelData(
            lines,
            [
                QueryResult(lines.queries[0], [_series({}, [0.01, 0.02, 0.015])]),
                QueryResult(lines.queries[1], [_series({}, [3, 4, 2])]),
            ],
        ),
        PanelData(
            versions, [QueryResult(versions.queries[0], [_series({"version": "v1"}, [2, 2, 2])])]
        ),
        PanelData(empty, [QueryResult(empty.queries[0], [])]),
    ]
    window = Window.ending_now(120, scrape_interval_s=1)
    summary = Summary(1000, 990, 12, 10, 2, ["v1"])
    title = header("http://prom:9090", window, summary)
    assert "scored 990" in title and "model v1" in title and "dead-lettered 10" in title
    out = render(panels, title, tmp_path / "sub" / "report.png")
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(data[16:20], "big")
    height = int.from_bytes(data[20:24], "big")
    assert width == 2 * 7.5 * 110 and height == 2 * 3.4 * 110
    assert panels[3].empty and not panels[0].empty


def test_heatmap_counts_per_bucket_from_cumulative_series():
    panel = Panel(title="h", kind="heatmap", queries=[Query(expr="h")])
    data = PanelData(
        panel,
        [
            QueryResult(
                panel.queries[0],
                [
                    Series(labels={"le": "+Inf"}, points=[(1, 10), (2, 4)]),
                    Series(labels={"le": "0.5"}, points=[(1, 2), (2, 5)]),  # 5 > 4: a reset
                    Series(labels={"le": "1"}, points=[(1, 7)]),
                ],
            )
        ],
    )
    times, bounds, grid = heatmap_grid(data)
    assert times == [1, 2]
    assert bounds == [0.5, 1.0, float("inf")]
    assert grid == [[2, 5], [5, 0], [3, 4]]
