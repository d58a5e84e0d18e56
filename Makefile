# The two set-up commands of the README, plus a few conveniences.
.PHONY: up test bootstrap lint typecheck down images

up: bootstrap           ## run the whole pipeline on the embedded local stack
	fraudstream up

test:                   ## run every test suite (bootstraps first)
	bash scripts/test

bootstrap:              ## install Debian/pip/Maven dependencies (idempotent)
	bash scripts/bootstrap

down:
	fraudstream down

lint:
	ruff check services tests benchmarks && ruff format --check services tests benchmarks

typecheck:
	mypy

images:                 ## build every container image: make images [IMAGE_TAG=..] [BASE=..] [ENGINE=podman]
	bash deploy/docker/build-images
