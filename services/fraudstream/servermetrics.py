"""What every fraudstream server exports about itself on /metrics: which build it is and what
the process costs.

`fraudstream_build_info{component, version, commit} 1` ties every dashboard line to code (the
version and commit of `fraudstream.version`), and prometheus_client's process and platform
collectors add `process_cpu_seconds_total`, `process_resident_memory_bytes`,
`process_open_fds`, `process_start_time_seconds` and `python_info`. The scorer adds these to
its own registry (`add_server_metrics`); the registry and KSQL servers, which have no metrics
of their own, get a /metrics route in front of their app (`with_metrics`).

`MetricSet` is how the servers with metrics of their own (scorer, monitor) declare them: one
call per metric, with the registry, the name prefix and the label values known up front said
once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from starlette.types import ASGIApp, Receive, Scope, Send

from fraudstream.version import __version__, git_commit

BUILD_INFO = "fraudstream_build_info"


def add_server_metrics(registry: CollectorRegistry, component: str) -> CollectorRegistry:
    """Register build info, process and platform metrics for `component` on `registry`."""
    info = Gauge(
        BUILD_INFO,
        "The fraudstream build serving this process (always 1).",
        ["component", "version", "commit"],
        registry=registry,
    )
    info.labels(component=component, version=__version__, commit=git_commit()).set(1)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return registry


class MetricSet:
    """Declares a server's metrics on its registry, each name `prefix` + its own."""

    def __init__(self, registry: CollectorRegistry, prefix: str) -> None:
        self.registry = registry
        self.prefix = prefix

    def counter(
        self, name: str, doc: str, labels: Sequence[str] = (), *, values: Iterable[str] = ()
    ) -> Counter:
        """A counter; `values` of its one label are exported at 0 from the start (a series
        born at its first increment hides that increment from `rate()`)."""
        values = list(values)
        if values and len(labels) != 1:
            raise ValueError(f"{name}: label values are for a counter with one label")
        counter = Counter(self.prefix + name, doc, labels, registry=self.registry)
        for value in values:
            counter.labels(value)
        return counter

    def gauge(self, name: str, doc: str, labels: Sequence[str] = (), *, nan: bool = False) -> Gauge:
        """A gauge; `nan`: an unlabelled gauge that reads NaN ("not known") until first set."""
        gauge = Gauge(self.prefix + name, doc, labels, registry=self.registry)
        if nan:
            gauge.set(float("nan"))
        return gauge

    def histogram(self, name: str, doc: str, buckets: Sequence[float]) -> Histogram:
        """An unlabelled histogram with these bucket bounds."""
        return Histogram(self.prefix + name, doc, buckets=buckets, registry=self.registry)


def server_registry(component: str) -> CollectorRegistry:
    """A fresh registry holding only the server metrics of `component`."""
    return add_server_metrics(CollectorRegistry(auto_describe=True), component)


def with_metrics(app: ASGIApp, component: str) -> ASGIApp:
    """`app` with GET /metrics answered from `server_registry(component)`."""
    registry = server_registry(component)

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/metrics" and scope["method"] == "GET":
            body = generate_latest(registry)
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", CONTENT_TYPE_LATEST.encode()),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await app(scope, receive, send)

    return wrapped


__all__ = ["BUILD_INFO", "MetricSet", "add_server_metrics", "server_registry", "with_metrics"]
