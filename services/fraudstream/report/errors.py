"""Errors of `fraudstream report`: Prometheus unreachable, a query refused, bad arguments.

The project's error tree has no report base yet, so `ReportError` hangs off the root; callers
catch `FraudstreamError` and the CLI turns it into one line and exit status 1.
"""

from __future__ import annotations

from fraudstream.errors import FraudstreamError


class ReportError(FraudstreamError):
    """The report could not be produced."""


class PrometheusUnavailableError(ReportError):
    """Prometheus did not answer (connection refused, timeout, not Prometheus)."""


class PrometheusQueryError(ReportError):
    """Prometheus answered but refused a query (bad PromQL, bad range)."""


__all__ = ["PrometheusQueryError", "PrometheusUnavailableError", "ReportError"]
