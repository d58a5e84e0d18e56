"""Test support: helpers for the test suites, benchmarks and demos, never imported by
product code (an import-linter contract in pyproject.toml enforces it).

- `testing.scorer`: a TensorFlow-free model artifact, KSQL-style live events, a scorer in a
  thread, Avro framing helpers.
- `testing.harness`: the whole local stack for e2e and fault tests.
- `testing.verify`: read topics back and account for every event id.
- `testing.datasets`: synthetic training sets.
- `testing.registry`: an in-process embedded Schema Registry for unit tests.
- `testing.wait`: `wait_until`, the one polling helper (fails naming what and the last value).
"""

from __future__ import annotations

__all__: list[str] = []
