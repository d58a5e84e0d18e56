"""A small Prometheus HTTP API client (query, query_range) on httpx, with typed results.

Only what the report needs: each call either returns series or raises a `ReportError`
subclass that names the URL or the PromQL expression, so a wrong address or a typo in a
query is one clear line instead of an empty picture.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, Literal

import httpx
from pydantic import BaseModel, Field, ValidationError

from fraudstream.report.errors import PrometheusQueryError, PrometheusUnavailableError


class Series(BaseModel):
    """One time series: its labels and (unix time, value) points; NaN/inf points dropped."""

    labels: dict[str, str] = Field(default_factory=dict)
    points: list[tuple[float, float]] = Field(default_factory=list)


class _Data(BaseModel):
    resultType: Literal["matrix", "vector", "scalar", "string"]
    result: Any


class _Response(BaseModel):
    status: Literal["success", "error"]
    data: _Data | None = None
    errorType: str | None = None
    error: str | None = None


def _finite_points(values: list[list[Any]]) -> list[tuple[float, float]]:
    points: list[tuple[float, float]] = []
    for ts, raw in values:
        value = float(raw)
        if math.isfinite(value):
            points.append((float(ts), value))
    return points


def _to_series(data: _Data) -> list[Series]:
    if data.resultType == "matrix":
        return [
            Series(labels=item.get("metric", {}), points=_finite_points(item.get("values", [])))
            for item in data.result
        ]
    if data.resultType == "vector":
        return [
            Series(labels=item.get("metric", {}), points=_finite_points([item["value"]]))
            for item in data.result
        ]
    if data.resultType == "scalar":
        return [Series(points=_finite_points([data.result]))]
    raise PrometheusQueryError(f"unexpected result type {data.resultType!r}")


class PrometheusClient:
    """Synchronous client for one Prometheus server (`base_url` like http://127.0.0.1:9090)."""

    def __init__(self, base_url: str, timeout: float = 10.0, client: httpx.Client | None = None):
        self.base_url = base_url.rstrip("/")
        self._client = client or httpx.Client(timeout=timeout)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> PrometheusClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get(self, path: str, params: dict[str, str]) -> _Data:
        url = f"{self.base_url}{path}"
        try:
            resp = self._client.get(url, params=params)
        except httpx.HTTPError as exc:
            raise PrometheusUnavailableError(
                f"cannot reach Prometheus at {self.base_url}: {exc or type(exc).__name__}"
            ) from None
        try:
            body = _Response.model_validate(resp.json())
        except (ValueError, ValidationError):
            raise PrometheusUnavailableError(
                f"{url} answered HTTP {resp.status_code} with something that is not the "
                "Prometheus API (wrong URL?)"
            ) from None
        if body.status != "success" or body.data is None:
            expr = params.get("query", "")
            raise PrometheusQueryError(
                f"Prometheus refused query {expr!r}: {body.errorType}: {body.error}"
            )
        return body.data

    def query(self, expr: str, at: datetime | None = None) -> list[Series]:
        """Instant query (`/api/v1/query`)."""
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at.timestamp():.3f}"
        return _to_series(self._get("/api/v1/query", params))

    def query_range(self, expr: str, start: datetime, end: datetime, step_s: float) -> list[Series]:
        """Range query (`/api/v1/query_range`) from start to end every step_s seconds."""
        params = {
            "query": expr,
            "start": f"{start.timestamp():.3f}",
            "end": f"{end.timestamp():.3f}",
            "step": f"{step_s:g}",
        }
        return _to_series(self._get("/api/v1/query_range", params))

    def healthy(self) -> bool:
        """True when `/-/ready` answers 200."""
        try:
            return self._client.get(f"{self.base_url}/-/ready").status_code == 200
        except httpx.HTTPError:
            return False


__all__ = ["PrometheusClient", "Series"]
