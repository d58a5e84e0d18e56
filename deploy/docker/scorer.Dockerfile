# syntax=docker/dockerfile:1
# Slim scorer image: fraudstream without the `train` extra, so no TensorFlow, scikit-learn or
# matplotlib (the scorer serves the trainer's NumPy weights). Build every image: `make images`;
# this one alone, from the repository root:
#   docker build -f deploy/docker/scorer.Dockerfile -t fraudstream-scorer:0.1.0 .
# BASE: python:3.11-slim-bookworm, or any Debian bookworm image with python3, venv and pip
# (`make images` here uses a debootstrap'ed one, scripts/bootstrap-containers). One stage:
# the base's pip installs into /opt/venv (which has no pip of its own) from
# deploy/docker/wheels, bind-mounted for the RUN only (filled by `make images`, offline),
# else from the index; no wheel, pip cache or build tool is left in any layer.
ARG BASE=python:3.11-slim-bookworm
FROM ${BASE}
# Everything down to the common dependencies is the same in scorer, trainer and tools, word
# for word, so that layer is built once and shared by the three images (keep them in step).
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
RUN groupadd --gid 10001 fraudstream \
 && useradd --uid 10001 --gid fraudstream --no-create-home --home-dir /app --shell /usr/sbin/nologin fraudstream \
 && mkdir -p /app /models && chown fraudstream:fraudstream /app /models \
 && python3 -m venv --without-pip /opt/venv
# Dependencies in layers of their own (rebuilt only when pyproject.toml or the pins change).
# DEPS_LOCK: a digest of the wheelhouse's pins (`make images`), so new pins rebuild them.
COPY pyproject.toml deploy/docker/requirements.py /tmp/src/
ARG DEPS_LOCK=index
RUN --mount=type=bind,source=deploy/docker/wheels,target=/wheels \
    python3 /tmp/src/requirements.py /tmp/src/pyproject.toml > /tmp/src/requirements.txt \
 && if [ -f /wheels/COMPLETE ]; then offline="--no-index -c /wheels/pins.txt"; fi \
 && python3 -m pip --python /opt/venv/bin/python install --no-cache-dir ${offline:-} \
      --find-links /wheels -r /tmp/src/requirements.txt
COPY README.md /tmp/src/
COPY services /tmp/src/services
RUN --mount=type=bind,source=deploy/docker/wheels,target=/wheels \
    if [ -f /wheels/COMPLETE ]; then offline=--no-index; fi \
 && python3 -m pip --python /opt/venv/bin/python install --no-cache-dir ${offline:-} \
      --find-links /wheels --no-deps /tmp/src \
 && rm -rf /tmp/src
# From here on `python` and `fraudstream` are the venv's.
ENV PATH=/opt/venv/bin:$PATH
RUN python -c "import importlib.util as u, sys; sys.exit(u.find_spec('tensorflow') is not None)" \
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
