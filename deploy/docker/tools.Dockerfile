# syntax=docker/dockerfile:1
# Tools image: the `fraudstream` CLI for one-shot and operator work (ksql apply, produce,
# registry, report). No TensorFlow; matplotlib for `fraudstream report`. The KSQL statements
# are baked in at /ksql (compose also mounts ./ksql there, so edits need no rebuild).
#   docker build -f deploy/docker/tools.Dockerfile -t fraudstream-tools:dev .
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY services ./services
RUN pip wheel --no-cache-dir --wheel-dir /wheels . "matplotlib>=3.8,<4"

FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 MPLBACKEND=Agg
RUN groupadd --system --gid 10001 fraudstream \
 && useradd --system --uid 10001 --gid fraudstream --home-dir /app --shell /usr/sbin/nologin fraudstream \
 && mkdir -p /app && chown fraudstream:fraudstream /app
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels fraudstream matplotlib \
 && rm -rf /wheels \
 && fraudstream --help >/dev/null
COPY ksql /ksql
WORKDIR /app
USER 10001:10001
HEALTHCHECK --interval=30s --timeout=10s --retries=3 CMD ["fraudstream", "--help"]
ENTRYPOINT ["fraudstream"]
CMD ["--help"]
