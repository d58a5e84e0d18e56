"""The registry (see docs/architecture.md)."""
