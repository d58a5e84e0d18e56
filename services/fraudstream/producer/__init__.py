"""The producer (see docs/architecture.md)."""
