# syntax=docker/dockerfile:1
# Stand-in for prom/prometheus where no image registry is reachable: Debian's prometheus
# package (2.42) with prom/prometheus' entrypoint, user (nobody) and data path (/prometheus),
# plus wget for the compose health check. Built by `IMAGES=prometheus-local make images`
# (context deploy/); used by docker-compose.local-images.yml.
ARG BASE=python:3.11-slim-bookworm
FROM ${BASE}
RUN mkdir -p /usr/share/man/man1 \
 && apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus wget >/dev/null \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /usr/share/doc/* /usr/share/man/* \
 && mkdir -p /prometheus && chown nobody:nogroup /prometheus
USER nobody
HEALTHCHECK --interval=10s --timeout=5s --retries=6 CMD ["wget", "-qO-", "http://localhost:9090/-/ready"]
ENTRYPOINT ["/usr/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
