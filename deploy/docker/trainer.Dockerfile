# syntax=docker/dockerfile:1
# Trainer image: fraudstream with the `train` extra (TensorFlow CPU, scikit-learn, matplotlib).
# A one-shot job: reads the training topic, writes models/<version>/ and LATEST to /models.
#   docker build -f deploy/docker/trainer.Dockerfile -t fraudstream-trainer:dev .
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY services ./services
RUN pip wheel --no-cache-dir --wheel-dir /wheels ".[train]"

FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TF_CPP_MIN_LOG_LEVEL=2 MPLBACKEND=Agg
RUN groupadd --system --gid 10001 fraudstream \
 && useradd --system --uid 10001 --gid fraudstream --home-dir /app --shell /usr/sbin/nologin fraudstream \
 && mkdir -p /app /models && chown fraudstream:fraudstream /app /models
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels "fraudstream[train]" \
 && rm -rf /wheels \
 && fraudstream train --help >/dev/null
WORKDIR /app
USER 10001:10001
ENV FRAUDSTREAM_MODEL_DIR=/models
# A batch job has no server: healthy while the package imports and the model store is writable.
HEALTHCHECK --interval=30s --timeout=10s --start-period=10s --retries=3 \
  CMD ["python", "-c", "import os, sys, fraudstream; sys.exit(not os.access(os.environ['FRAUDSTREAM_MODEL_DIR'], os.W_OK))"]
ENTRYPOINT ["fraudstream"]
CMD ["train"]
