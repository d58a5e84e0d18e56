# syntax=docker/dockerfile:1
# Trainer image: fraudstream with the `train` extra (TensorFlow, scikit-learn, matplotlib).
# A one-shot job: reads the training topic, writes models/<version>/ and LATEST to /models.
#   docker build -f deploy/docker/trainer.Dockerfile -t fraudstream-trainer:0.1.0 .
# Same layout as scorer.Dockerfile (BASE, /opt/venv, the bind-mounted wheelhouse); see there.
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
# The train extra on top (TensorFlow: this image only).
RUN --mount=type=bind,source=deploy/docker/wheels,target=/wheels \
    python3 /tmp/src/requirements.py /tmp/src/pyproject.toml train > /tmp/src/requirements.txt \
 && if [ -f /wheels/COMPLETE ]; then offline="--no-index -c /wheels/pins.txt"; fi \
 && python3 -m pip --python /opt/venv/bin/python install --no-cache-dir ${offline:-} \
      --find-links /wheels -r /tmp/src/requirements.txt
ENV TF_CPP_MIN_LOG_LEVEL=2 MPLBACKEND=Agg
COPY README.md /tmp/src/
COPY services /tmp/src/services
RUN --mount=type=bind,source=deploy/docker/wheels,target=/wheels \
    if [ -f /wheels/COMPLETE ]; then offline=--no-index; fi \
 && python3 -m pip --python /opt/venv/bin/python install --no-cache-dir ${offline:-} \
      --find-links /wheels --no-deps /tmp/src \
 && rm -rf /tmp/src
# From here on `python` and `fraudstream` are the venv's.
ENV PATH=/opt/venv/bin:$PATH
RUN fraudstream train --help >/dev/null
WORKDIR /app
USER 10001:10001
ENV FRAUDSTREAM_MODEL_DIR=/models
# A batch job has no server: healthy while the package imports and the model store is writable.
HEALTHCHECK --interval=30s --timeout=10s --start-period=10s --retries=3 \
  CMD ["python", "-c", "import os, sys, fraudstream; sys.exit(not os.access(os.environ['FRAUDSTREAM_MODEL_DIR'], os.W_OK))"]
ENTRYPOINT ["fraudstream"]
CMD ["train"]
