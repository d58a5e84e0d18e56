# The two set-up commands of the README, plus a few conveniences. Everything runs from the
# project virtual environment $(VENV) that scripts/bootstrap creates; never the system Python.
.PHONY: up test bootstrap lint typecheck down images

VENV ?= .venv
export VENV
BIN := $(VENV)/bin
UP_ARGS ?=

up:                     ## run the whole pipeline on the embedded local stack
	bash scripts/bootstrap up
	$(BIN)/fraudstream up $(UP_ARGS)

test:                   ## run every test suite (bootstraps first)
	bash scripts/test

bootstrap:              ## install Debian/pip/Maven/Go dependencies for up and test (idempotent)
	bash scripts/bootstrap test

down:
	$(BIN)/fraudstream down

lint:
	$(BIN)/ruff check services tests benchmarks && $(BIN)/ruff format --check services tests benchmarks

typecheck:
	$(BIN)/mypy

images:                 ## build every container image: make images [IMAGE_TAG=..] [BASE=..] [ENGINE=podman]
	PYTHON=$$([ -x $(BIN)/python ] && echo $(BIN)/python || echo python3) bash deploy/docker/build-images
