"""Draw the fetched panels to one PNG with matplotlib (Agg backend: no display needed).

matplotlib is imported here only, when a report is drawn, so the CLI (and the slim scorer
image, which has no matplotlib) imports without it.
"""

from __future__ import annotations

import math
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fraudstream.report.collect import PanelData, Summary, Window, format_legend
from fraudstream.report.errors import ReportError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

_UNIT_LABEL = {"ops": "events/s", "percent": "%", "seconds": "seconds", "count": "count"}


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:  # the slim scorer image has no matplotlib
        raise ReportError(
            f"the report needs matplotlib ({exc}); install it: pip install 'matplotlib>=3.8'"
        ) from None
    return plt


def _times(points: list[tuple[float, float]]) -> np.ndarray:
    """Unix seconds -> datetime64 (UTC, naive as matplotlib expects)."""
    return np.array([round(t * 1000) for t, _ in points], dtype="datetime64[ms]")


def _scale(unit: str, values: list[float]) -> list[float]:
    return [v * 100.0 for v in values] if unit == "percent" else values


def _no_data(ax: Axes, why: str = "no data") -> None:
    ax.text(0.5, 0.5, why, ha="center", va="center", transform=ax.transAxes, color="grey")


def _draw_lines(ax: Axes, data: PanelData) -> None:
    unit = data.panel.unit
    right: Axes | None = None
    handles: list[Any] = []
    for result in data.results:
        q = result.query
        target = ax
        q_unit = q.unit or unit
        if q.right_axis:
            right = right or ax.twinx()
            target = right
            right.set_ylabel(_UNIT_LABEL[q_unit])
        for series in result.series:
            if not series.points:
                continue
            ys = _scale(q_unit, [v for _, v in series.points])
            drawn = target.plot(
                _times(series.points),
                ys,
                linewidth=1.2,
                drawstyle="steps-post" if q.right_axis else "default",
                alpha=0.6 if q.right_axis else 1.0,
                label=format_legend(q.legend, series.labels),
            )
            handles.extend(drawn)
    ax.set_ylabel(_UNIT_LABEL[unit])
    if handles:
        ax.legend(handles=handles, fontsize=7, loc="upper left")
    else:
        _no_data(ax)


def _le(label: str) -> float:
    return math.inf if label in ("+Inf", "Inf", "inf") else float(label)


def heatmap_grid(data: PanelData) -> tuple[list[float], list[float], list[list[float]]]:
    """(times, bucket upper bounds, counts[bucket][time]) from cumulative `le` series:
    each bucket's count is its cumulative value minus the bucket below (Grafana's heatmap
    format); a missing point counts as 0 and a negative difference (a reset) as 0."""
    buckets: dict[float, dict[float, float]] = {}
    for result in data.results:
        for series in result.series:
            if "le" in series.labels:
                buckets[_le(series.labels["le"])] = dict(series.points)
    times = sorted({t for pts in buckets.values() for t in pts})
    bounds = sorted(buckets)
    grid: list[list[float]] = []
    for i, le in enumerate(bounds):
        below = buckets[bounds[i - 1]] if i else {}
        grid.append([max(0.0, buckets[le].get(t, 0.0) - below.get(t, 0.0)) for t in times])
    return times, bounds, grid


def _draw_heatmap(ax: Axes, data: PanelData) -> None:
    times, bounds, grid = heatmap_grid(data)
    if not bounds or not times:
        _no_data(ax)
        return
    labels = [("+Inf" if math.isinf(b) else f"{b:g}") for b in bounds]
    mesh = ax.pcolormesh(
        _times([(t, 0.0) for t in times]),
        range(len(bounds)),
        grid,
        shading="nearest",
        cmap="Oranges",
    )
    ax.set_yticks(range(len(bounds)))
    ax.set_yticklabels(labels, fontsize=6)
    ax.set_ylabel("score bucket (le)")
    ax.figure.colorbar(mesh, ax=ax, label="events per interval")


def _draw_versions(ax: Axes, data: PanelData) -> None:
    from matplotlib.ticker import MaxNLocator

    drawn = False
    for result in data.results:
        for series in result.series:
            if series.points:
                ax.step(
                    _times(series.points),
                    [v for _, v in series.points],
                    where="post",
                    label=format_legend(result.query.legend, series.labels),
                )
                drawn = True
    ax.set_ylabel("replicas")
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if drawn:
        ax.legend(fontsize=7, loc="upper left")
    else:
        _no_data(ax, "no model in service")


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:,.0f}"


def header(source: str, window: Window, summary: Summary) -> str:
    """The figure's title: where, when, and the window's totals."""
    when = (
        f"{window.start:%Y-%m-%d %H:%M:%S} to {window.end:%H:%M:%S} UTC "
        f"(step {window.step_s:g}s, rate window {window.rate_window})"
    )
    totals = (
        f"consumed {_fmt(summary.consumed)} | scored {_fmt(summary.scored)} | "
        f"anomalous {_fmt(summary.anomalous)} | dead-lettered {_fmt(summary.dead_lettered)} | "
        f"replicas up {_fmt(summary.replicas_up)} | model "
        f"{', '.join(summary.model_versions) or 'none'}"
    )
    return f"fraudstream scorer: {source}\n{when}\n{totals}"


def render(
    panels: list[PanelData], title: str, out: Path, columns: int = 2, dpi: int = 110
) -> Path:
    """Draw each panel in a grid under `title`; write `out` (PNG) and return it."""
    plt = _pyplot()
    import matplotlib.dates as mdates

    rows = max(1, math.ceil(len(panels) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(7.5 * columns, 3.4 * rows), squeeze=False)
    try:
        for i, ax in enumerate(axes.flat):
            if i >= len(panels):
                ax.set_visible(False)
                continue
            data = panels[i]
            ax.set_title(data.panel.title, fontsize=10, loc="left")
            ax.grid(True, alpha=0.3)
            if data.panel.kind == "heatmap":
                _draw_heatmap(ax, data)
            elif data.panel.kind == "versions":
                _draw_versions(ax, data)
            else:
                _draw_lines(ax, data)
            ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S", tz=UTC))
            ax.tick_params(labelsize=7)
        fig.suptitle(title, fontsize=10, x=0.01, ha="left")
        fig.tight_layout(rect=(0, 0, 1, 0.95))
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, dpi=dpi)
    finally:
        plt.close(fig)
    return out


__all__ = ["header", "heatmap_grid", "render"]
