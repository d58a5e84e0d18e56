"""The ksql (see docs/architecture.md)."""
