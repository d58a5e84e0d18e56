# syntax=docker/dockerfile:1
# Slim scorer image: fraudstream without the `train` extra, so no TensorFlow, scikit-learn or
# matplotlib (the scorer serves the trainer's NumPy weights). Build from the repository root:
#   docker build -f deploy/docker/scorer.Dockerfile -t fraudstream-scorer:dev .
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY services ./services
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN groupadd --system --gid 10001 fraudstream \
 && useradd --system --uid 10001 --gid fraudstream --home-dir /app --shell /usr/sbin/nologin fraudstream \
 && mkdir -p /app /models && chown fraudstream:fraudstream /app /models
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels fraudstream \
 && rm -rf /wheels \
 && python -c "import importlib.util as u, sys; sys.exit(u.find_spec('tensorflow') is not None)" \
 && fraudstream score --help >/dev/null
WORKDIR /app
USER 10001:10001
ENV FRAUDSTREAM_BIND_HOST=0.0.0.0 FRAUDSTREAM_METRICS_PORT=8000 FRAUDSTREAM_MODEL_DIR=/models
EXPOSE 8000
# /healthz: 200 while the poll loop runs (readiness is /readyz, used by Kubernetes).
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('FRAUDSTREAM_METRICS_PORT', '8000'), timeout=3)"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["fraudstream"]
CMD ["score"]
