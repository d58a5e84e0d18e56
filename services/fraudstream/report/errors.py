"""Errors of `fraudstream report`: Prometheus unreachable, a query refused, bad arguments.

`ReportError` is the part's base in `fraudstream.errors`; callers catch `FraudstreamError`
and the CLI turns it into one line and exit status 1.
"""

from __future__ import annotations

from fraudstream.errors import ReportError


class PrometheusUnavailableError(ReportError):
    """Prometheus did not answer (connection refused, timeout, not Prometheus)."""


class PrometheusQueryError(ReportError):
    """Prometheus answered but refused a query (bad PromQL, bad range)."""


__all__ = ["PrometheusQueryError", "PrometheusUnavailableError", "ReportError"]
